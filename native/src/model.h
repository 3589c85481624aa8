// JS class Model: a loaded llama_model (weights + vocab + chat templates).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chat.h"
#include "errors.h"
#include "llama.h"

namespace hearth {

struct Vision; // vision.h
struct PromptCuts; // prompt_tokens.cpp
struct SpecialText; // data_text.h

// Owned by Model and by every Context made from it, so a context keeps its weights alive.
struct ModelHandle {
    llama_model * model = nullptr;
    common_chat_templates_ptr templates;
    std::string chat_template; // the load's chatTemplate (empty: the model's own template)
    std::string path;
    uint64_t file_size = 0;
    std::string fingerprint; // identifies the weights for session files
    // what llama.cpp's fitting chose when the load asked for it (gpuLayers "auto" with fitMarginMiB)
    bool fitted = false, fits = false;
    int32_t fitGpuLayers = 0;
    uint32_t fitContext = 0;
    std::shared_ptr<Vision> vision; // the projector (load parameter mmproj), or null
    // what reusing a previous prompt's tokens needs of the vocab, read when a chat prompt is first tokenized
    mutable std::once_flag prompt_cuts_once;
    mutable std::shared_ptr<const PromptCuts> prompt_cuts;
    // the special texts llama.cpp's tokenizer splits out (data_text.h), read when a prompt is first tokenized
    mutable std::once_flag specials_once;
    mutable std::shared_ptr<const std::vector<SpecialText>> specials;
    std::vector<std::string> fitOverrides; // "pattern=buffer type": where it put tensors (a MoE model's experts)
    // speculative decoding (speculative.cpp): the draft model loaded beside this one (null: none) and
    // the load settings every context of this model drafts with
    llama_model * draft = nullptr;
    std::string draftPath;
    std::string specKind = "none"; // "none", "draft" or one of llama.cpp's n-gram kinds
    common_params_speculative specParams; // the load's limits (params.h LoadParams::speculativeParams)
    ~ModelHandle();
};

// Its JS methods run through wrap() (errors.h): Guarded<Model>::guarded.
class Model : public Napi::ObjectWrap<Model>, public Guarded<Model> {
public:
    static Napi::Function Init(Napi::Env env);
    static Napi::FunctionReference constructor;
    explicit Model(const Napi::CallbackInfo & info);

    std::shared_ptr<ModelHandle> handle() const { return handle_; }
    std::shared_ptr<ModelHandle> requireHandle() const;

    // addon.loadModel(path, params, onProgress) -> { promise: Promise<Model>, cancel(): void }
    static Napi::Value Load(const Napi::CallbackInfo & info);

private:
    Napi::Value Metadata(const Napi::CallbackInfo & info);
    Napi::Value Tokenize(const Napi::CallbackInfo & info);
    Napi::Value Detokenize(const Napi::CallbackInfo & info);
    Napi::Value ApplyChatTemplate(const Napi::CallbackInfo & info);
    Napi::Value Dispose(const Napi::CallbackInfo & info);
    Napi::Value FitResult(const Napi::CallbackInfo & info);
    Napi::Value ImageTokens(const Napi::CallbackInfo & info);

    std::shared_ptr<ModelHandle> handle_;
};

} // namespace hearth
