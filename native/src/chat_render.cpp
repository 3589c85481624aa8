#include "chat_render.h"

#include <algorithm>
#include <cstdlib>

#include "activity.h"
#include "chat_marks.h"
#include "params.h"
#include "util.h"

namespace hearth {

// The test hooks (HEARTH_TEST_HOOKS=1) compare every prompt whose tokens were partly reused with a whole tokenize.
static bool checkReusedTokens() {
    static const bool on = [] {
        const char * v = std::getenv("HEARTH_TEST_HOOKS");
        return v && std::string(v) == "1";
    }();
    return on;
}

RenderedChat renderChat(const ModelHandle & h, const common_json & req, const common_json * messagesOverride, PromptMemo * memo) {
    if (!h.templates) throw HearthError(codes::not_supported, "the model has no usable chat template; use a raw prompt");
    return renderChatWith(h, h.templates.get(), !h.chat_template.empty(), req, messagesOverride, memo);
}

RenderedChat renderChatWith(const ModelHandle & h, const common_chat_templates * templates, bool given_template, const common_json & req, const common_json * messagesOverride,
                            PromptMemo * memo) {
    RenderedChat out;
    common_chat_templates_inputs & in = out.inputs;
    const common_json & asked = messagesOverride ? *messagesOverride : req.at("messages");
    if (!asked.is_array() || asked.size() == 0) throw HearthError(codes::invalid_argument, "messages must be a non-empty array");
    // data (dataMarks: the text between U+FDD0 and U+FDD1 in contents) goes through the template marked,
    // and the tokenizing below keeps special-token text in it as text (data_text.h); marks anywhere else
    // are no marks
    const llama_vocab * vocab = llama_model_get_vocab(h.model);
    const bool data_marks = req.contains("dataMarks") && req.at("dataMarks") == true;
    const common_json * asked_tools = req.contains("tools") ? &req.at("tools") : nullptr;
    const bool has_tools = asked_tools && asked_tools->is_array() && !asked_tools->empty();
    // copied only where marks are settled: a request without them renders what it was given
    common_json cleared, settled_tools;
    if (data_marks) {
        cleared = asked;
        settleMessageMarks(cleared);
        if (has_tools) {
            settled_tools = *asked_tools;
            settleToolMarks(settled_tools, true);
        }
    }
    const common_json & given = data_marks ? cleared : asked;
    const common_json * tools = data_marks && has_tools ? &settled_tools : asked_tools; // read only when has_tools
    // images: rendered as the projector's media marker, tokenized below with their bitmaps
    std::vector<std::string> images;
    common_json marked;
    if (hasImages(given)) {
        if (!h.vision) throw HearthError(codes::not_supported, "this model has no projector (mmproj) loaded, so it cannot read images");
        marked = withMediaMarkers(*h.vision, given, images);
    }
    const common_json & msgs = images.empty() ? given : marked;
    try {
        in.messages = common_chat_msgs_parse_oaicompat(msgs);
        if (has_tools) {
            in.tools = common_chat_tools_parse_oaicompat(*tools);
            in.tool_choice = common_chat_tool_choice_parse_oaicompat(req.value("toolChoice", std::string("auto")));
            in.parallel_tool_calls = req.value("parallelToolCalls", false);
        }
    } catch (const std::exception & e) {
        throw HearthError(codes::invalid_argument, std::string("messages: ") + e.what());
    }
    if (req.contains("jsonSchema") && !req.at("jsonSchema").is_null()) in.json_schema = req.at("jsonSchema").dump();
    if (req.contains("grammar") && req.at("grammar").is_string()) in.grammar = req.at("grammar").get<std::string>();
    in.enable_thinking = req.value("enableThinking", true);
    // as llama-server's chat_template_kwargs: templates that read it (gpt-oss) set their effort by it
    if (req.contains("reasoningEffort") && req.at("reasoningEffort").is_string()) {
        in.chat_template_kwargs["reasoning_effort"] = common_json(req.at("reasoningEffort").get<std::string>()).dump();
    }
    // as llama-server passes --reasoning-preserve: a template that can keep earlier turns' reasoning does so
    // when on (the caps' preserve flags), and writes it as it would by itself when off
    in.chat_template_kwargs["preserve_reasoning"] = req.value("preserveReasoning", RequestParams{}.preserve_reasoning) ? "true" : "false";
    in.reasoning_format = req.value("reasoning", true) ? COMMON_REASONING_FORMAT_DEEPSEEK : COMMON_REASONING_FORMAT_NONE;
    const common_chat_msg & last = in.messages.back(); // messages is not empty (above)
    const bool empty_reply = last.role == "assistant" && last.content.empty() && last.content_parts.empty() && last.reasoning_content.empty() && last.tool_calls.empty();
    if (req.value("continueFinal", false) && empty_reply) {
        // a reply with nothing in it yet: llama.cpp continues only a message with text (it would end the
        // prompt after the messages before it, with no generation prompt), so it is written afresh
        in.messages.pop_back();
        in.add_generation_prompt = true;
    } else if (req.value("continueFinal", false)) {
        // llama.cpp's continuation writes the reply's text and reasoning, not its calls (llama-server refuses so)
        if (!last.tool_calls.empty()) throw HearthError(codes::invalid_argument, "a reply that called tools cannot be continued; regenerate it instead");
        in.continue_final_message = COMMON_CHAT_CONTINUATION_AUTO;
        in.add_generation_prompt = false;
    } else {
        in.add_generation_prompt = req.value("addGenerationPrompt", true);
    }
    in.use_jinja = true;
    auto render = [&](const common_chat_templates_inputs & x) {
        // llama.cpp's Jinja engine has no step or time limit: the host's watchdog times this, and only
        // this (activity.h); tokenizing the rendered prompt below is ordinary work, however long
        TemplateScope rendering(h.path, given_template);
        try {
            return common_chat_templates_apply(templates, x);
        } catch (const std::exception & e) {
            throw HearthError(codes::invalid_argument, std::string("chat template failed: ") + e.what());
        }
    };
    const std::vector<SpecialText> & specials = specialsOf(h);
    // the user-defined special texts tokenizing breaks up in data: those the templates write, and those
    // llama.cpp's chat code keeps for the format (gpt-oss's <|constrain|>)
    auto guardedOf = [&] {
        std::string used = common_chat_templates_source(templates) + common_chat_templates_source(templates, "tool_use");
        for (const auto & t : out.params.preserved_tokens) used += t;
        return structuralTokens(specials, used);
    };
    // every text a template could cut a reply at, or refuse in one: the template's thinking tags (once
    // a render has reported them), the control tokens' texts and the user-defined ones tokenizing breaks
    // up in data anyway. The reply being continued is no template's to cut (llama.cpp writes it after
    // the render): left as it is
    auto cutTexts = [&] {
        std::vector<std::string> tags = out.params.thinking_end_tags;
        if (!out.params.thinking_start_tag.empty()) tags.push_back(out.params.thinking_start_tag);
        for (const SpecialText & s : specials) {
            if (s.parsed_only) tags.emplace_back(s.text);
        }
        for (const SpecialText * s : guardedOf()) tags.emplace_back(s->text);
        return tags;
    };
    const size_t replies = in.continue_final_message != COMMON_CHAT_CONTINUATION_NONE ? in.messages.size() - 1 : in.messages.size();
    try {
        out.params = render(in);
    } catch (const HearthError &) {
        // a template that refuses a reply holding a special token's text (a raise_exception on it:
        // gpt-oss's on its own tags in a reply's thinking, which a step's reasoning becomes; it would
        // fail every later step) is rendered again with those texts broken up in the replies' data
        if (!data_marks || !breakTags(in.messages, replies, cutTexts())) throw;
        out.params = render(in);
    }
    // a thinking template that cuts a reply at its tags (DeepSeek R1's keeps what follows the last
    // </think>, Gemma 4's drops what follows <|channel>) cuts the marks of a reply whose text holds one
    // apart: rendered again with every text a template could cut it at broken up in the replies' data
    if (data_marks && loneMarks(out.params.prompt) && breakTags(in.messages, replies, cutTexts())) out.params = render(in);
    if (data_marks && escapedMarkCount(out.params.prompt) > 0) {
        // a template that writes the tools, or calls' arguments, with tojson(ensure_ascii=true) (Reka's
        // tools) would show their marks as text: rendered again with the descriptions and arguments
        // unmarked. Only escapes the marks add count: a text may spell "\ufdd0" itself
        common_chat_templates_inputs plain = in;
        unmarkMessages(plain.messages);
        common_json unmarked;
        if (has_tools) {
            unmarked = *asked_tools;
            settleToolMarks(unmarked, false);
            plain.tools = common_chat_tools_parse_oaicompat(unmarked);
        }
        if (escapedMarkCount(out.params.prompt) > escapedMarkCount(render(plain).prompt)) {
            const bool args = unmarkArguments(in.messages);
            if (has_tools) in.tools = plain.tools;
            if (args || has_tools) out.params = render(in);
        }
    }
    // a continued reply's text is in the generation prompt, marks and all: the sampler's grammar is
    // prefilled with it and the reply's parse starts from it, which take it as the model wrote it
    if (data_marks && hasMarks(out.params.generation_prompt)) out.params.generation_prompt = withoutMarks(out.params.generation_prompt);
    // tokenizing runs as one call with no progress inside: stamped before and after for the stall watchdog
    progressHere();
    const bool data_marked = data_marks && hasMarks(out.params.prompt);
    std::vector<const SpecialText *> guarded;
    if (data_marked) guarded = guardedOf();
    if (!images.empty()) {
        if (memo) *memo = PromptMemo{}; // a prompt with images is tokenized by mtmd: nothing to reuse next time
        out.media = std::make_shared<PromptMedia>();
        // mtmd tokenizes the whole text with special tokens parsed: special text in marked text is broken up instead
        if (data_marked) out.params.prompt = breakMarked(specials, guarded, out.params.prompt);
        out.tokens = tokenizeWithImages(*h.vision, out.params.prompt, images, *out.media);
    } else {
        // marked text: tokenized as text, the marks removed (the prompt is then the text its tokens are of)
        std::vector<TextSpan> kept;
        if (data_marked) out.params.prompt = markedText(guarded, out.params.prompt, kept);
        out.tokens = memo ? tokenizePrompt(h, out.params.prompt, kept, *memo, &out.reused, checkReusedTokens()) : tokenizeSpecial(vocab, specials, out.params.prompt, true, &kept);
    }
    progressHere();
    return out;
}

int systemPromptTokens(const ModelHandle & h, const common_json & req, const RenderedChat & rendered, const common_json * messagesOverride) {
    const int bos = llama_vocab_get_add_bos(llama_model_get_vocab(h.model)) ? 1 : 0;
    const common_json & msgs = messagesOverride ? *messagesOverride : req.at("messages");
    common_json system = common_json::array();
    for (const auto & m : msgs) {
        if (!m.is_object() || m.value("role", std::string()) != "system") break;
        system.push_back(m);
    }
    if (system.empty()) return std::min<int>(bos, (int) rendered.tokens.size());
    common_json alone = req;
    alone["addGenerationPrompt"] = false;
    alone.erase("continueFinal");
    RenderedChat sys;
    try {
        sys = renderChat(h, alone, &system);
    } catch (const std::exception &) {
        return std::min<int>(bos, (int) rendered.tokens.size());
    }
    size_t n = 0;
    while (n < sys.tokens.size() && n < rendered.tokens.size() && sys.tokens[n] == rendered.tokens[n]) n++;
    return std::max<int>((int) n, std::min<int>(bos, (int) rendered.tokens.size()));
}

} // namespace hearth
