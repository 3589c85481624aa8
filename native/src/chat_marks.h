// Data marks in a chat request (data_text.h says what they are): settled in its messages and tools
// before the template runs, and the renders a template's handling of them calls for (chat_render.cpp).
#pragma once

#include <string>
#include <vector>

#include "chat.h"
#include "data_text.h"

namespace hearth {

// With dataMarks, before the template runs: marks are read in the text of a message's content, its
// reasoning (`reasoning_content`, a string) and its calls' arguments (`tool_calls[].function.arguments`,
// a string: the app marks the strings in the JSON a model wrote there); any elsewhere in the messages
// (a call's name, a member's name) becomes U+FFFD, so that it cannot pair with another. Walks the JSON
// without recursion.
void settleMessageMarks(common_json & messages);

// The same for a request's tools, whose descriptions (written by the tools' servers) are data: with
// `mark_descriptions`, each `description` string (not one inside a schema's const, enum, default or
// examples) is marked, as main/params/data-text.ts asData marks a text; any other marks there become
// U+FFFD.
void settleToolMarks(common_json & tools, bool mark_descriptions);

// In the content and reasoning of each of the first `n` messages that is an assistant's, each of `tags`
// (whitespace aside) that stands in marked text gets a U+2060 (word joiner) after its first character (where
// markedText puts one in a user-defined token's text): a template that cuts a reply at such a text
// (DeepSeek R1's and Qwen3's at </think>, Gemma 4's at <|channel>) then finds none in the reply's data,
// and keeps it whole and marked (and one that cut a reply's reasoning would too). Whether any did.
// Linear in the text, times the tags that start with the same byte.
bool breakTags(std::vector<common_chat_msg> & messages, size_t n, const std::vector<std::string> & tags);

// The messages' texts (contents, their parts, reasoning, calls' arguments) without their marks.
void unmarkMessages(std::vector<common_chat_msg> & messages);

// How many marks a rendered prompt shows as JSON escapes ("\ufdd0": a template's tojson(ensure_ascii=true)).
size_t escapedMarkCount(const std::string & prompt);

// The calls' arguments without their marks, for a template that shows marks as JSON escapes
// (escapedMarkCount); whether any had marks.
bool unmarkArguments(std::vector<common_chat_msg> & messages);

} // namespace hearth
