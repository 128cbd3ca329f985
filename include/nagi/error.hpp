// nagi::Error: the one exception type that crosses the library boundary.
// Messages name the file and field at fault, e.g.
//   "model.safetensors: tensor 'model.norm.weight': shape [63], expected [64]".
#pragma once

#include <stdexcept>
#include <string>

namespace nagi {

enum class ErrorCode {
  kInvalidArgument,  // a caller passed something unusable (bad option, bad token id)
  kIo,               // a file could not be opened, read or mapped
  kFormat,           // a file is malformed, truncated or inconsistent
  kUnsupported,      // well-formed but not something nagi implements (yet)
  kContextFull,      // the request needs more positions than the context holds
  kCancelled,        // generation was cancelled by the caller
  kInternal,         // a bug in nagi
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace nagi
