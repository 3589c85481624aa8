#include "model_metadata.h"

#include <algorithm>
#include <cstdlib>

#include "model.h"

namespace hearth {

static std::string metaString(const llama_model * model, const std::string & key) {
    char buf[512];
    int32_t n = llama_model_meta_val_str(model, key.c_str(), buf, sizeof(buf));
    if (n < 0) return "";
    if ((size_t) n < sizeof(buf)) return std::string(buf, n);
    std::string big(n + 1, '\0');
    llama_model_meta_val_str(model, key.c_str(), big.data(), big.size());
    big.resize(n);
    return big;
}

static std::string describe(const llama_model * model) {
    char buf[256];
    int32_t n = llama_model_desc(model, buf, sizeof(buf));
    return n > 0 ? std::string(buf, std::min<int32_t>(n, sizeof(buf) - 1)) : "";
}

std::string modelFingerprint(const llama_model * m, uint64_t file_size) {
    return describe(m) + "|" + std::to_string(llama_model_n_params(m)) + "|" + std::to_string(llama_model_n_embd(m)) + "|" +
           std::to_string(llama_model_n_layer(m)) + "|" + std::to_string(llama_vocab_n_tokens(llama_model_get_vocab(m))) + "|" +
           metaString(m, "general.name") + "|" + std::to_string(file_size);
}

static const char * poolingName(int v) {
    switch (v) {
        case 0: return "none";
        case 1: return "mean";
        case 2: return "cls";
        case 3: return "last";
        case 4: return "rank";
        default: return "unspecified";
    }
}

Napi::Value Model::Metadata(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::shared_ptr<ModelHandle> h = requireHandle();
    const llama_model * m = h->model;
    const llama_vocab * vocab = llama_model_get_vocab(m);
    Napi::Object o = Napi::Object::New(env);
    std::string arch = metaString(m, "general.architecture");
    o.Set("path", h->path);
    o.Set("architecture", arch);
    o.Set("name", metaString(m, "general.name"));
    o.Set("description", describe(m));
    o.Set("fileSize", Napi::Number::New(env, (double) h->file_size));
    o.Set("size", Napi::Number::New(env, (double) llama_model_size(m)));
    o.Set("parameters", Napi::Number::New(env, (double) llama_model_n_params(m)));
    std::string ft = metaString(m, "general.file_type");
    o.Set("fileType", ft.empty() ? env.Null() : Napi::Number::New(env, std::atoi(ft.c_str())));
    o.Set("layers", llama_model_n_layer(m));
    o.Set("embeddingSize", llama_model_n_embd(m));
    o.Set("heads", llama_model_n_head(m));
    o.Set("trainedContext", llama_model_n_ctx_train(m));
    o.Set("vocabSize", llama_vocab_n_tokens(vocab));
    const char * tmpl = llama_model_chat_template(m, nullptr);
    o.Set("chatTemplate", tmpl ? Napi::Value(Napi::String::New(env, tmpl)) : env.Null());
    std::string pooling = metaString(m, arch + ".pooling_type");
    bool is_embedding = !pooling.empty() && std::atoi(pooling.c_str()) != 0;
    o.Set("pooling", pooling.empty() ? "unspecified" : poolingName(std::atoi(pooling.c_str())));
    o.Set("isEmbedding", is_embedding || llama_model_has_encoder(m) && !llama_model_has_decoder(m));
    Napi::Object special = Napi::Object::New(env);
    auto tok = [&](const char * name, llama_token t) {
        if (t == LLAMA_TOKEN_NULL) return;
        Napi::Object s = Napi::Object::New(env);
        s.Set("id", t);
        s.Set("text", llama_vocab_get_text(vocab, t));
        special.Set(name, s);
    };
    tok("bos", llama_vocab_bos(vocab));
    tok("eos", llama_vocab_eos(vocab));
    tok("eot", llama_vocab_eot(vocab));
    tok("sep", llama_vocab_sep(vocab));
    tok("nl", llama_vocab_nl(vocab));
    tok("pad", llama_vocab_pad(vocab));
    // fill-in-the-middle (code models): prefix, suffix, middle, and the repo-level file markers
    tok("fimPre", llama_vocab_fim_pre(vocab));
    tok("fimSuf", llama_vocab_fim_suf(vocab));
    tok("fimMid", llama_vocab_fim_mid(vocab));
    tok("fimPad", llama_vocab_fim_pad(vocab));
    tok("fimRep", llama_vocab_fim_rep(vocab));
    tok("fimSep", llama_vocab_fim_sep(vocab));
    o.Set("specialTokens", special);
    o.Set("addBos", llama_vocab_get_add_bos(vocab));
    o.Set("tokenizer", metaString(m, "tokenizer.ggml.model"));
    o.Set("fingerprint", h->fingerprint);
    o.Set("vision", (bool) h->vision); // a projector was loaded: chat messages may carry images
    return o;
}

} // namespace hearth
