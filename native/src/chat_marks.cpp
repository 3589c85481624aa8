#include "chat_marks.h"

#include <cctype>
#include <functional>

namespace hearth {

static constexpr size_t npos = std::string_view::npos;
static constexpr std::string_view REPLACEMENT = "\xEF\xBF\xBD"; // U+FFFD
static constexpr std::string_view WORD_JOINER = "\xE2\x81\xA0"; // U+2060

static bool isSpace(char c) {
    return std::isspace((unsigned char) c) != 0;
}

namespace {

// `s` with every mark in it U+FFFD.
std::string cleared(const std::string & s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, DATA_OPEN.size(), DATA_OPEN) == 0 || s.compare(i, DATA_CLOSE.size(), DATA_CLOSE) == 0) {
            out.append(REPLACEMENT);
            i += DATA_OPEN.size();
        } else {
            out.push_back(s[i++]);
        }
    }
    return out;
}

bool hasMark(const std::string & s) {
    return s.find(DATA_OPEN) != npos || s.find(DATA_CLOSE) != npos;
}

// `s` marked as data, as main/params/data-text.ts asData marks it: its own marks U+FFFD, the whitespace
// at its ends outside the marks.
std::string asData(const std::string & s) {
    const std::string c = cleared(s);
    size_t b = 0, e = c.size();
    while (b < e && isSpace(c[b])) b++;
    while (e > b && isSpace(c[e - 1])) e--;
    if (b == e) return c;
    return c.substr(0, b) + std::string(DATA_OPEN) + c.substr(b, e - b) + std::string(DATA_CLOSE) + c.substr(e);
}

// Every string value in `root` becomes what `fix(key, literal, s)` makes of it, `key` the member name it
// is under ("" in an array), `literal` whether it is inside a JSON schema's const, enum, default or
// examples (values the grammar makes the model write); marks in member names become U+FFFD. Walked
// without recursion.
void eachString(common_json & root, const std::function<void(const std::string & key, bool literal, common_json & v)> & fix) {
    struct Item {
        std::string key;
        common_json * v;
        bool literal;
    };
    std::vector<Item> todo{{"", &root, false}};
    while (!todo.empty()) {
        Item item = std::move(todo.back());
        todo.pop_back();
        common_json * v = item.v;
        if (v->is_string()) {
            fix(item.key, item.literal, *v);
        } else if (v->is_object()) {
            bool marked_key = false;
            for (auto it = v->begin(); it != v->end() && !marked_key; ++it) marked_key = hasMark(it.key());
            if (marked_key) {
                common_json rebuilt = common_json::object();
                for (auto it = v->begin(); it != v->end(); ++it) rebuilt[cleared(it.key())] = std::move(it.value());
                *v = std::move(rebuilt);
            }
            for (auto it = v->begin(); it != v->end(); ++it) {
                const std::string key = it.key();
                const bool literal = item.literal || key == "const" || key == "enum" || key == "default" || key == "examples";
                todo.push_back({key, &it.value(), literal});
            }
        } else if (v->is_array()) {
            for (auto & x : *v) todo.push_back({"", &x, item.literal});
        }
    }
}

void clearMarks(common_json & root) {
    eachString(root, [](const std::string &, bool, common_json & v) {
        const std::string s = v.get<std::string>();
        if (hasMark(s)) v = cleared(s);
    });
}

bool isString(const common_json & o, const char * key, const char * value) {
    return o.contains(key) && o.at(key).is_string() && o.at(key).get<std::string>() == value;
}

} // namespace

void settleToolMarks(common_json & tools, bool mark_descriptions) {
    eachString(tools, [mark_descriptions](const std::string & key, bool literal, common_json & v) {
        const std::string s = v.get<std::string>();
        if (mark_descriptions && key == "description" && !literal) v = asData(s);
        else if (hasMark(s)) v = cleared(s);
    });
}

// A message's calls with marks kept in each call's arguments text (function.arguments, a string) and
// cleared everywhere else.
static void settleCallMarks(common_json & calls) {
    if (!calls.is_array()) return clearMarks(calls);
    for (auto & c : calls) {
        if (!c.is_object()) {
            clearMarks(c);
            continue;
        }
        for (auto it = c.begin(); it != c.end(); ++it) {
            if (it.key() != "function" || !it.value().is_object()) {
                clearMarks(it.value());
                continue;
            }
            for (auto f = it.value().begin(); f != it.value().end(); ++f) {
                if (f.key() != "arguments" || !f.value().is_string()) clearMarks(f.value());
            }
        }
    }
}

void settleMessageMarks(common_json & messages) {
    if (!messages.is_array()) return;
    for (auto & m : messages) {
        if (!m.is_object()) {
            clearMarks(m);
            continue;
        }
        for (auto it = m.begin(); it != m.end(); ++it) {
            if (it.key() == "tool_calls") {
                settleCallMarks(it.value());
                continue;
            }
            if (it.key() == "reasoning_content" && it.value().is_string()) continue; // the model's too
            if (it.key() != "content") {
                clearMarks(it.value());
                continue;
            }
            if (!it.value().is_array()) continue; // a string: the content's text
            for (auto & part : it.value()) {
                if (!part.is_object()) {
                    clearMarks(part);
                    continue;
                }
                if (isString(part, "type", "image")) continue; // its path or bytes
                const bool text = isString(part, "type", "text");
                for (auto f = part.begin(); f != part.end(); ++f) {
                    if (!text || f.key() != "text") clearMarks(f.value());
                }
            }
        }
    }
}

bool breakTags(std::vector<common_chat_msg> & messages, size_t n, const std::vector<std::string> & tags) {
    std::vector<std::string> cuts;
    for (const auto & t : tags) {
        size_t b = 0, e = t.size();
        while (b < e && isSpace(t[b])) b++;
        while (e > b && isSpace(t[e - 1])) e--;
        if (e > b) cuts.push_back(t.substr(b, e - b));
    }
    bool starts[256] = {}; // the first bytes of the tags: most places start none
    for (const auto & t : cuts) starts[(unsigned char) t[0]] = true;
    bool any = false;
    auto breakIn = [&](std::string & c) {
        if (c.find(DATA_OPEN) == npos) return;
        std::string out;
        out.reserve(c.size());
        bool inside = false;
        for (size_t i = 0; i < c.size();) {
            if (c.compare(i, DATA_OPEN.size(), DATA_OPEN) == 0 || c.compare(i, DATA_CLOSE.size(), DATA_CLOSE) == 0) {
                inside = c.compare(i, DATA_OPEN.size(), DATA_OPEN) == 0;
                out.append(c, i, DATA_OPEN.size());
                i += DATA_OPEN.size();
                continue;
            }
            const std::string * cut = nullptr;
            if (inside && starts[(unsigned char) c[i]]) {
                for (const auto & t : cuts) {
                    if (c.compare(i, t.size(), t) == 0) {
                        cut = &t;
                        break;
                    }
                }
            }
            if (!cut) {
                out.push_back(c[i++]);
                continue;
            }
            // a joiner after the tag's first character, where markedText would put one
            size_t first = 1;
            while (first < cut->size() && ((unsigned char) (*cut)[first] & 0xC0) == 0x80) first++;
            out.append(*cut, 0, first).append(WORD_JOINER).append(*cut, first, npos);
            i += cut->size();
            any = true;
        }
        c = std::move(out);
    };
    for (size_t k = 0; k < n && k < messages.size(); k++) {
        if (messages[k].role != "assistant") continue;
        breakIn(messages[k].content);
        breakIn(messages[k].reasoning_content);
    }
    return any;
}

void unmarkMessages(std::vector<common_chat_msg> & messages) {
    for (auto & m : messages) {
        m.content = withoutMarks(m.content);
        m.reasoning_content = withoutMarks(m.reasoning_content);
        for (auto & p : m.content_parts) p.text = withoutMarks(p.text);
    }
    unmarkArguments(messages);
}

size_t escapedMarkCount(const std::string & prompt) {
    size_t n = 0;
    for (const char * e : {"\\ufdd0", "\\ufdd1", "\\uFDD0", "\\uFDD1"}) {
        const std::string_view v(e);
        for (size_t p = prompt.find(v); p != npos; p = prompt.find(v, p + v.size())) n++;
    }
    return n;
}

bool unmarkArguments(std::vector<common_chat_msg> & messages) {
    bool any = false;
    for (auto & m : messages) {
        for (auto & c : m.tool_calls) {
            if (!hasMarks(c.arguments)) continue;
            c.arguments = withoutMarks(c.arguments);
            any = true;
        }
    }
    return any;
}

} // namespace hearth
