#include "template_check.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace hearth {

namespace {

bool startsWith(const std::string & s, size_t at, const char * p) { return s.compare(at, std::strlen(p), p) == 0; }

// After a quote at `at`: where the string literal ends (past its closing quote), escapes skipped.
size_t skipString(const std::string & s, size_t at) {
    const char q = s[at];
    for (size_t i = at + 1; i < s.size(); i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == q) return i + 1;
    }
    return s.size();
}

std::string lineOf(const std::string & s, size_t at) {
    size_t line = 1;
    for (size_t i = 0; i < at && i < s.size(); i++) line += s[i] == '\n';
    return "line " + std::to_string(line);
}

} // namespace

std::string templateProblem(const std::string & s) {
    // the blocks open around this point, each with the levels of llama.cpp's parser it holds (an if
    // with its elifs: each elif is parsed as an if inside the one before), and their sum
    std::vector<std::pair<std::string, int>> blocks;
    int depth = 0;
    size_t i = 0;
    while (i < s.size()) {
        const size_t open = s.find('{', i);
        if (open == std::string::npos || open + 1 >= s.size()) break;
        const char kind = s[open + 1];
        if (kind == '#') { // a comment
            const size_t end = s.find("#}", open + 2);
            i = end == std::string::npos ? s.size() : end + 2;
            continue;
        }
        if (kind != '{' && kind != '%') {
            i = open + 1;
            continue;
        }
        // the tag's body up to where llama.cpp's lexer ends it: at %} or at }} outside the tag's own
        // braces, whichever tag opened (its tokens do not say); strings and comments skipped
        int operators = 0, braces = 0, brackets = 0;
        bool closed_by_statement = false;
        bool assigns = false; // an = outside brackets: {% set x = … %}, not a block set with arguments
        size_t j = open + 2;
        std::string first; // a statement's first word
        for (; j < s.size(); j++) {
            const char c = s[j];
            if (c == '"' || c == '\'') {
                j = skipString(s, j) - 1;
                continue;
            }
            if (startsWith(s, j, "{#")) {
                const size_t end = s.find("#}", j + 2);
                j = end == std::string::npos ? s.size() : end + 1;
                continue;
            }
            if (c == '}' && braces == 0 && startsWith(s, j, "}}")) break;
            if (startsWith(s, j, "%}")) {
                closed_by_statement = true;
                break;
            }
            if (std::isalpha((unsigned char) c) || c == '_') {
                size_t k = j;
                while (k < s.size() && (std::isalnum((unsigned char) s[k]) || s[k] == '_')) k++;
                const std::string word = s.substr(j, k - j);
                if (first.empty()) first = word;
                if (word == "and" || word == "or" || word == "not" || word == "in" || word == "is" || word == "if" || word == "else") operators++;
                j = k - 1;
                continue;
            }
            if (c == '{') braces++;
            if (c == '}') braces = std::max(0, braces - 1);
            if (c == '(' || c == '[' || c == '{') brackets++;
            if (c == ')' || c == ']' || c == '}') brackets = std::max(0, brackets - 1);
            if (c == '=' && brackets == 0 && !startsWith(s, j, "==") && (j == 0 || std::strchr("=!<>", s[j - 1]) == nullptr)) assigns = true;
            if (std::strchr("+-*/%~|.<>([{=!", c) != nullptr) operators++;
            if (operators > MAX_TEMPLATE_TAG_OPERATORS) {
                return "the template has a tag with more than " + std::to_string(MAX_TEMPLATE_TAG_OPERATORS) + " operators and brackets (" + lineOf(s, open) +
                       "): llama.cpp's Jinja engine would run out of stack";
            }
        }
        if (kind == '%') {
            // llama.cpp's parser skips the one token after generation or endgeneration unread (meant
            // to be %}): a tag with anything else could hide what follows from this count
            if (first == "generation" || first == "endgeneration") {
                std::string rest = s.substr(open + 2, j - open - 2);
                rest.erase(std::remove_if(rest.begin(), rest.end(), [](char ch) { return std::isspace((unsigned char) ch) || ch == '-' || ch == '+'; }), rest.end());
                if (rest != first || !closed_by_statement) {
                    return "the template has a {% " + first + " %} tag with more in it than the word (" + lineOf(s, open) + "): llama.cpp's parser skips what follows it unread";
                }
            }
            // the statements that hold a body (generation and raw hold none in llama.cpp's parser)
            static const char * const BLOCKS[] = {"if", "for", "macro", "call", "filter", "set"};
            bool deeper = false;
            for (const char * b : BLOCKS) {
                if (first == b && (first != "set" || !assigns)) {
                    blocks.push_back({first, 1});
                    deeper = true;
                }
                // only the end of the innermost block closes it (a stray end closes nothing)
                if (first == std::string("end") + b && !blocks.empty() && blocks.back().first == b) {
                    depth -= blocks.back().second;
                    blocks.pop_back();
                }
            }
            if (first == "elif" && !blocks.empty() && blocks.back().first == "if") {
                blocks.back().second++;
                deeper = true;
            }
            if (deeper && ++depth > MAX_TEMPLATE_BLOCK_DEPTH) {
                return "the template has blocks more than " + std::to_string(MAX_TEMPLATE_BLOCK_DEPTH) + " deep inside each other, elif counted as a level (" +
                       lineOf(s, open) + "): llama.cpp's Jinja engine would run out of stack";
            }
        }
        i = j + 2;
    }
    return "";
}

common_chat_templates_ptr initTemplates(const llama_model * model, const std::string & tmpl) {
    if (!tmpl.empty()) {
        const std::string problem = templateProblem(tmpl);
        if (!problem.empty()) throw std::runtime_error(problem);
    } else {
        for (const char * name : {(const char *) nullptr, "tool_use"}) {
            const char * own = llama_model_chat_template(model, name);
            const std::string problem = own ? templateProblem(own) : "";
            if (!problem.empty()) throw std::runtime_error(problem);
        }
    }
    try {
        return common_chat_templates_init(model, tmpl);
    } catch (const std::exception & e) {
        // common_chat_templates_init rethrows a template's parse error as a copy of std::exception (`throw e`),
        // whose what() says only "std::exception": the template parsed again here says where and why
        // (the template llama.cpp parsed first: the one given, else the file's default, else its tool_use one)
        const char * own = llama_model_chat_template(model, nullptr);
        const char * tool_use = llama_model_chat_template(model, "tool_use");
        const std::string src = !tmpl.empty() ? tmpl : own ? own : tool_use ? tool_use : "";
        try {
            common_chat_template parsed(src, "", "");
        } catch (const std::exception & why) {
            throw std::runtime_error(why.what());
        }
        throw;
    }
}

} // namespace hearth
