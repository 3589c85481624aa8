// llama.cpp's Jinja parser and interpreter recurse once per nesting level with no bound: a template
// with a few thousand parentheses, operators in a row or blocks inside each other overflows the
// thread's stack and takes the engine host down (at each load, for a file's own template). A
// template is checked before llama.cpp parses it; real ones stay far inside the bounds (llama.cpp's
// models/templates: at most 10 blocks deep, 26 operators in a tag).
#pragma once

#include <string>

#include "chat.h"
#include "llama.h"

namespace hearth {

// Blocks ({% if %}, {% for %}, {% macro %} …) inside each other, each elif of an if one more.
constexpr int MAX_TEMPLATE_BLOCK_DEPTH = 64;
// Operators and brackets in one {{ … }} or {% … %} (each may nest one level deeper).
constexpr int MAX_TEMPLATE_TAG_OPERATORS = 256;

// Why a template must not be given to llama.cpp's Jinja engine (empty: it may).
std::string templateProblem(const std::string & tmpl);

// common_chat_templates_init, with the template it would use (`tmpl`, else the model file's own and
// its tool-use variant) checked first: throws std::runtime_error with the problem, as a template
// llama.cpp cannot parse throws.
common_chat_templates_ptr initTemplates(const llama_model * model, const std::string & tmpl);

} // namespace hearth
