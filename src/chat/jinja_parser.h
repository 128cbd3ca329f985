// Recursive-descent parser from tokens to the syntax tree, following Jinja's
// grammar and operator precedence (filters and tests bind tighter than
// arithmetic, `~` sits between + and *).
#pragma once

#include <string_view>

#include "chat/jinja_ast.h"

namespace nagi::jinja {

// Lexes and parses `source`; throws nagi::Error(kFormat) with the line.
Body parse_template(std::string_view source);

}  // namespace nagi::jinja
