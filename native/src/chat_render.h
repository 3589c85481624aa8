// Renders a chat request (OpenAI-style messages, tools, schema) with the model's own template through
// llama.cpp's common chat library, and tokenizes the result.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat.h"
#include "common.h"
#include "model.h"
#include "prompt_tokens.h"
#include "vision.h"

namespace hearth {

struct RenderedChat {
    common_chat_params params;
    std::vector<llama_token> tokens;
    size_t reused = 0; // how many of `tokens` came from the memo's (the rest were tokenized)
    common_chat_templates_inputs inputs;
    // the images in `tokens` (their placeholders, vision.h), or null: a chat without images
    std::shared_ptr<PromptMedia> media;
};

// req: { messages, tools?, toolChoice?, jsonSchema?, grammar?, enableThinking?, reasoning?,
//        reasoningEffort?, addGenerationPrompt?, continueFinal? }
// messagesOverride, when given, replaces req.messages (used to drop old turns on overflow).
// Image parts ({type: "image", data | path}) need the model's projector (not_supported without one):
// they are rendered as its media marker and tokenized with mtmd (vision.h).
// memo, when given, is the sequence's previous prompt: the tokens of the text the two share are reused
// where that is safe (prompt_tokens.h), and it then holds this prompt (a prompt with images: nothing).
RenderedChat renderChat(const ModelHandle & h, const common_json & req, const common_json * messagesOverride = nullptr, PromptMemo * memo = nullptr);
// The same with other templates than the model's (a preview of a chatTemplate setting); `given`: they
// are the user's (a chatTemplate setting), not the file's own (the watchdog's verdict says which).
RenderedChat renderChatWith(const ModelHandle & h, const common_chat_templates * templates, bool given, const common_json & req,
                            const common_json * messagesOverride = nullptr, PromptMemo * memo = nullptr);

// How many of rendered.tokens belong to the leading system messages (the system prompt): the leading
// tokens a context shift keeps. Renders those messages alone and takes the common token prefix;
// at least BOS when the vocab adds one, 0 when nothing can be said (no system message, or a template
// that refuses to render system messages alone).
int systemPromptTokens(const ModelHandle & h, const common_json & req, const RenderedChat & rendered, const common_json * messagesOverride = nullptr);

} // namespace hearth
