// nagi command-line program (subcommands are added in their own files).
#include <cstdio>
int main() {
  std::puts("nagi: not yet implemented");
  return 1;
}
