// Syntax tree of a parsed Jinja template. Both node kinds are plain tagged
// structs: the interpreter switches on the type, and the handful of fields
// each type uses are documented next to it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace nagi::jinja {

struct Expr;
struct Node;
using ExprPtr = std::unique_ptr<Expr>;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Expr {
  enum class Type {
    kLiteral,   // literal
    kName,      // name
    kList,      // items: elements
    kTuple,     // items: elements (evaluates to a list)
    kDict,      // items: key, value, key, value, ...
    kGetAttr,   // items[0].name
    kGetItem,   // items[0][items[1]]
    kSlice,     // items[0][items[1]:items[2]:items[3]] (null = omitted)
    kCall,      // items[0](items[1..], kwargs)
    kFilter,    // items[0] | name(items[1..], kwargs)
    kTest,      // items[0] is [not] name(items[1..]); negated
    kUnary,     // name ("not", "-", "+") items[0]
    kBinary,    // items[0] name items[1]; name also "and", "or", "in", "not in"
    kCondExpr,  // items[1] if items[0] else items[2] (items[2] may be null)
  };
  Type type;
  int line;
  Value literal;
  std::string name;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;
};

struct Node {
  enum class Type {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // branches (cond, body); else_body
    kFor,       // targets in expr [if cond]: body; else_body
    kSet,       // targets = expr, or target_obj.attr = expr (namespace)
    kSetBlock,  // {% set targets[0] %}body{% endset %}
    kMacro,     // name(params): body
    kBreak,
    kContinue,
    kScope,     // body rendered in place ({% generation %})
  };
  Type type;
  int line;
  std::string text;  // text, or macro name
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::string> targets;
  std::string attr;  // set ns.attr: targets[0] is the namespace variable
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
};

}  // namespace nagi::jinja
