// nagi chat on a pseudo-terminal: the "> " prompt appears, a turn is
// answered, and Ctrl-C at the prompt quits (exit status 130).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "../tokenizer/tokenizer_fixtures.h"

namespace nagi {
namespace {

// Reads from `fd` until `out` holds `needle` `count` times or `seconds` pass.
bool read_until(int fd, std::string& out, const std::string& needle, int count, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto occurrences = [&] {
    int n = 0;
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++n;
    return n;
  };
  while (occurrences() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

TEST(ChatTerminal, PromptTurnAndCtrlCAtThePrompt) {
  REQUIRE_SHARED();
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const std::string slave_name = ptsname(master);
  const std::string nagi = test::bin_dir() + "/nagi";
  const std::string model = test::stories_path("stories260K.gguf");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A new session whose controlling terminal is the slave side, so the
    // terminal turns ^C into SIGINT for nagi.
    setsid();
    const int slave = open(slave_name.c_str(), O_RDWR);
    if (slave < 0) _exit(97);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(master);
    execl(nagi.c_str(), nagi.c_str(), "chat", "-m", model.c_str(), "--temp", "0", "-n", "8", "-t", "1", "-v",
          static_cast<char*>(nullptr));
    _exit(98);
  }
  std::string out;
  ASSERT_TRUE(read_until(master, out, "> ", 1, 60)) << out;
  const std::string line = "Once upon a time\n";
  ASSERT_EQ(write(master, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  ASSERT_TRUE(read_until(master, out, "> ", 2, 60)) << out;
  EXPECT_NE(out.find("[prefill"), std::string::npos) << out;
  const char ctrl_c = 0x03;
  ASSERT_EQ(write(master, &ctrl_c, 1), 1);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 600 && !exited; ++i) {
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) usleep(100000);
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ADD_FAILURE() << "nagi chat did not exit on Ctrl-C at the prompt";
  }
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << out;
  close(master);
}

}  // namespace
}  // namespace nagi
