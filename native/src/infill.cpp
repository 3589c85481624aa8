#include "infill.h"

#include <algorithm>

#include "errors.h"

namespace hearth {

// The prompt of a fill-in-the-middle request { prefix, suffix, extra?: [{ filename?, text }], prompt? },
// built from the vocab's FIM tokens as llama-server's format_prompt_infill builds it (the repo-level
// pattern: [FIM_REP]project [FIM_SEP]file extra… [FIM_SEP]filename [FIM_PRE]prefix prompt [FIM_SUF]suffix
// [FIM_MID]); the prefix keeps its last 3/4 of a batch, the suffix the rest, the extra chunks what
// the context leaves.
std::vector<llama_token> infillPrompt(const llama_vocab * vocab, const common_json & in, int n_batch, int n_ctx, int64_t max_tokens) {
    std::string missing;
    if (llama_vocab_fim_pre(vocab) == LLAMA_TOKEN_NULL) missing += " prefix";
    if (llama_vocab_fim_suf(vocab) == LLAMA_TOKEN_NULL) missing += " suffix";
    if (llama_vocab_fim_mid(vocab) == LLAMA_TOKEN_NULL) missing += " middle";
    if (!missing.empty()) throw HearthError(codes::not_supported, "this model has no fill-in-the-middle tokens (missing:" + missing + "); infill needs a code model trained for it");
    if (!in.is_object() || !in.contains("prefix") || !in.at("prefix").is_string() || !in.contains("suffix") || !in.at("suffix").is_string()) {
        throw HearthError(codes::invalid_argument, "infill needs a prefix and a suffix string");
    }
    auto tok = [&](const std::string & t) { return common_tokenize(vocab, t, false, false); };
    std::vector<llama_token> prefix = tok(in.at("prefix").get<std::string>());
    std::vector<llama_token> suffix = tok(in.at("suffix").get<std::string>());
    std::vector<llama_token> middle = in.contains("prompt") && in.at("prompt").is_string() ? tok(in.at("prompt").get<std::string>()) : std::vector<llama_token>();
    std::vector<llama_token> extra;
    const llama_token rep = llama_vocab_fim_rep(vocab), sep = llama_vocab_fim_sep(vocab);
    if (rep != LLAMA_TOKEN_NULL) {
        extra.push_back(rep);
        auto project = tok("myproject\n");
        extra.insert(extra.end(), project.begin(), project.end());
    }
    const common_json chunks = in.value("extra", common_json::array());
    if (!chunks.is_array()) throw HearthError(codes::invalid_argument, "infill extra must be a list of { filename?, text }");
    for (const auto & c : chunks) {
        if (!c.is_object() || !c.contains("text") || !c.at("text").is_string()) throw HearthError(codes::invalid_argument, "infill extra entries need a text string");
        const std::string filename = c.contains("filename") && c.at("filename").is_string() ? c.at("filename").get<std::string>() : "tmp";
        if (sep != LLAMA_TOKEN_NULL) {
            extra.push_back(sep);
            auto f = tok(filename + "\n");
            extra.insert(extra.end(), f.begin(), f.end());
        } else {
            auto f = tok("\n\n--- snippet ---\n\n");
            extra.insert(extra.end(), f.begin(), f.end());
        }
        auto t = tok(c.at("text").get<std::string>());
        extra.insert(extra.end(), t.begin(), t.end());
    }
    if (sep != LLAMA_TOKEN_NULL) {
        extra.push_back(sep);
        auto f = tok("filename\n");
        extra.insert(extra.end(), f.begin(), f.end());
    }
    const int n_prefix_take = std::min<int>((int) prefix.size(), 3 * (n_batch / 4));
    const int n_suffix_take = std::min<int>((int) suffix.size(), std::max<int>(0, n_batch / 4 - (2 + (int) middle.size())));
    // a reply without a bound is given a batch (at most a quarter of the context) here: with none, the
    // extra files would fill the context and leave the reply no room
    const int n_predict = max_tokens < 0 ? std::min(n_batch, n_ctx / 4) : (int) std::min<int64_t>(max_tokens, n_ctx);
    const bool bos = llama_vocab_get_add_bos(vocab);
    // the prompt without the extra files (BOS, its three FIM tokens): with llama-server's rule alone
    // (the context less a batch and twice the reply) the whole could still be a few tokens too long
    const int n_rest = (bos ? 1 : 0) + 3 + n_prefix_take + (int) middle.size() + n_suffix_take;
    const int n_extra_room = std::min(n_ctx - n_batch - 2 * n_predict, n_ctx - n_rest - std::max(1, n_predict));
    const int n_extra_take = std::min<int>(std::max<int>(0, n_extra_room), (int) extra.size());
    prefix.erase(prefix.begin(), prefix.begin() + (prefix.size() - n_prefix_take));
    suffix.resize(n_suffix_take);
    std::vector<llama_token> out;
    if (bos) out.push_back(llama_vocab_bos(vocab));
    out.insert(out.begin(), extra.end() - n_extra_take, extra.end());
    out.push_back(llama_vocab_fim_pre(vocab));
    out.insert(out.end(), prefix.begin(), prefix.end());
    out.insert(out.end(), middle.begin(), middle.end());
    out.push_back(llama_vocab_fim_suf(vocab));
    out.insert(out.end(), suffix.begin(), suffix.end());
    out.push_back(llama_vocab_fim_mid(vocab));
    return out;
}

} // namespace hearth
