#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sys/stat.h>

#include "activity.h"
#include "chat_render.h"
#include "template_check.h"
#include "context.h"
#include "fit.h"
#include "llama_gate.h"
#include "memory.h"
#include "model_metadata.h"
#include "speculation.h"
#include "params.h"
#include "tensor_overrides.h"
#include "common.h"
#include "util.h"
#include "vision.h"
#include "weight_types.h"

namespace hearth {

Napi::FunctionReference Model::constructor;

ModelHandle::~ModelHandle() {
    Activity freeing("free", path); // watched: a thread waiting at the gate behind it is excused
    {
        LlamaUse use;
        templates.reset();
        vision.reset(); // before the text model it was made for
        if (draft) llama_model_free(draft);
        if (model) llama_model_free(model);
    }
    if (model) returnFreedMemory(); // outside the use: a fit need not wait for it
}

Napi::Function Model::Init(Napi::Env env) {
    Napi::Function fn = DefineClass(env, "Model", {
        InstanceMethod("metadata", &Model::guarded<&Model::Metadata>),
        InstanceMethod("tokenize", &Model::guarded<&Model::Tokenize>),
        InstanceMethod("detokenize", &Model::guarded<&Model::Detokenize>),
        InstanceMethod("applyChatTemplate", &Model::guarded<&Model::ApplyChatTemplate>),
        InstanceMethod("dispose", &Model::guarded<&Model::Dispose>),
        InstanceMethod("fitResult", &Model::guarded<&Model::FitResult>),
        InstanceMethod("imageTokens", &Model::guarded<&Model::ImageTokens>),
    });
    constructor = Napi::Persistent(fn);
    constructor.SuppressDestruct();
    return fn;
}

Model::Model(const Napi::CallbackInfo & info) : Napi::ObjectWrap<Model>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
        throw Napi::TypeError::New(info.Env(), "Model cannot be constructed directly: use loadModel()");
    }
    auto * h = info[0].As<Napi::External<std::shared_ptr<ModelHandle>>>().Data();
    // moved, not copied: this object owns the handle alone, so dispose() frees the weights at once (the
    // External would otherwise keep them until V8 collects it)
    handle_ = std::move(*h);
}

std::shared_ptr<ModelHandle> Model::requireHandle() const {
    if (!handle_) throw HearthError(codes::disposed, "the model was disposed");
    return handle_;
}

// A load in flight: progress goes to JS through a thread-safe function; cancel() sets the flag that
// the progress callback returns to llama.cpp.
struct LoadState {
    std::atomic<bool> cancelled{false};
    Napi::ThreadSafeFunction progress;
    bool has_progress = false;
    float last = -1.0f;
    // once, on the loading thread, however the load ends (a kept function would hold the event loop open)
    void releaseProgress() {
        if (has_progress) progress.Release();
        has_progress = false;
    }
};

static bool onLoadProgress(float p, void * user) {
    auto * st = static_cast<LoadState *>(user);
    progressHere(); // called on the loading thread
    LlamaUse::yieldToFit(&st->cancelled); // between tensors: a waiting fit runs now rather than after the whole load
    if (st->has_progress && (p - st->last >= 0.01f || p >= 1.0f)) {
        st->last = p;
        st->progress.NonBlockingCall([p](Napi::Env env, Napi::Function fn) { fn.Call({Napi::Number::New(env, p)}); });
    }
    return !st->cancelled.load();
}

Napi::Value Model::Load(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "loadModel(path, params?, onProgress?): path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Object given = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    // the files as the user knows them, for messages and metadata, when `path` and the draftModel
    // parameter are other names of them (the host passes /proc/self/fd/N: the file it checked, opened
    // once); not load parameters
    std::string display = optString(given, "displayPath", path);
    Napi::Object params = withoutKeys(env, given, {"displayPath", "draftDisplayPath"});
    llama_model_params mparams;
    llama_context_params fit_cparams{};
    double fit_margin_mib = -1;
    auto user_split = std::make_shared<std::vector<float>>();
    EngineParams p = parseEngineParams(info.Length() > 1 && info[1].IsObject() ? Napi::Value(params) : info.Length() > 1 ? info[1] : env.Undefined());
    mparams = p.load.model();
    // the projector, for images (vision.h); a metadata-only load reads no weights, so none
    const std::string mmproj = p.load.no_alloc ? std::string() : p.load.mmproj;
    const AdapterParams adapters = p.load.no_alloc ? AdapterParams() : p.load.adapters; // loaded with its context
    if (!mmproj.empty()) {
        struct stat mst {};
        if (stat(mmproj.c_str(), &mst) != 0 || !S_ISREG(mst.st_mode)) throw makeError(env, codes::load_failed, "projector file not found: " + mmproj);
    }
    *user_split = p.load.split();
    // nCpuMoe and tensorOverrides (never with gpuLayers "auto": params.cpp), alive through the load
    std::shared_ptr<const TensorOverrides> user_overrides = p.load.overrides();
    // speculative decoding: the draft model is loaded after the target, on the same devices
    const std::string spec_kind = p.load.no_alloc ? "none" : p.load.speculativeKind();
    const std::string draft_path = p.load.draft_model;
    const std::string draft_display = optString(given, "draftDisplayPath", draft_path);
    // on the user's split (the fit measures it so, as llama.cpp's does); loaded on the target's after the fit
    llama_model_params draft_mparams = p.load.draftModel(user_split->empty() ? nullptr : user_split->data());
    const common_params_speculative spec_params = p.load.speculativeParams();
    if (spec_kind == "draft") {
        struct stat ds {};
        if (stat(draft_path.c_str(), &ds) != 0 || !S_ISREG(ds.st_mode)) throw makeError(env, codes::load_failed, "draft model file not found: " + draft_display + " (the draft for " + display + ")");
    }
    // gpuLayers "auto" with a margin: llama.cpp's own fitting picks the offload before the load
    if (p.load.gpu_auto && p.load.fit_margin_given) {
        fit_margin_mib = p.load.fit_margin_mib;
        fit_cparams = contextParams(p.context, nullptr);
    }
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) throw makeError(env, codes::load_failed, "model file not found: " + display);
    if (!S_ISREG(st.st_mode)) throw makeError(env, codes::load_failed, "not a file: " + display);

    auto state = std::make_shared<LoadState>();
    if (info.Length() > 2 && info[2].IsFunction()) {
        state->progress = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "hearth.loadProgress", 0, 1);
        state->has_progress = true;
    }
    mparams.progress_callback = onLoadProgress;
    mparams.progress_callback_user_data = state.get();

    auto result = std::make_shared<std::shared_ptr<ModelHandle>>();
    uint64_t file_size = (uint64_t) st.st_size;
    const std::string chat_template = p.load.chat_template;
    Napi::Promise promise = AsyncTask::run(env,
        [path, display, mparams, state, result, file_size, fit_cparams, fit_margin_mib, user_split, mmproj, chat_template, user_overrides, spec_kind, draft_path, draft_display,
         draft_mparams, spec_params, adapters]() mutable {
            Activity activity("load", display);
            struct ProgressGuard {
                LoadState & s;
                ~ProgressGuard() { s.releaseProgress(); }
            } progress_guard{*state};
            // what llama.cpp loads but cannot compute with (weight_types.h): refused before the fit or the load (a
            // load of the metadata alone computes nothing, but a context may still be made on it: its encoder is checked)
            {
                LlamaUse use(LlamaUseKind::lengthy);
                refuseUncomputable(path, "the model " + display, true, !mparams.no_alloc);
                if (spec_kind == "draft") refuseUncomputable(draft_path, "the draft model " + draft_display + " (the draft for " + display + ")");
                refuseUncomputable(mmproj, "the projector " + mmproj + " (for " + display + ")", false);
            }
            if (!user_split->empty()) mparams.tensor_split = user_split->data();
            if (user_overrides) mparams.tensor_buft_overrides = user_overrides->list.data();
            // the fit writes tensor split and buffer overrides that must live through the load
            std::vector<float> split(llama_max_devices(), 0.0f);
            std::vector<llama_model_tensor_buft_override> overrides(llama_max_tensor_buft_overrides(), {nullptr, nullptr});
            bool fitted = false, fits = false;
            // the projector's memory as the fit reckoned it (reused by the load when it goes where the fit put it)
            ProjectorMemory projector_mem;
            bool reckoned = false;
            ggml_backend_dev_t reckoned_device = nullptr;
            mparams.progress_callback = nullptr; // the fit's trial loads are not the load the user waits for
            if (fit_margin_mib >= 0) {
                LlamaAlone alone(&state->cancelled);
                Activity fitting("fit", display); // watched while it runs alone; its log lines are its progress
                std::vector<size_t> margins(llama_max_devices(), (size_t) (fit_margin_mib * 1024 * 1024));
                // the vision projector, LoRA adapters and control vectors share the devices: their bytes widen the margins
                // where they will go (memory.cpp FitParams)
                if (!mmproj.empty() || adapters.takeMemory()) {
                    const std::vector<ggml_backend_dev_t> devices = modelDevices(path, mparams);
                    if (!mmproj.empty()) {
                        reckoned_device = projectorDevice(devices, mparams);
                        projector_mem = projectorMemory(mmproj, reckoned_device, defaultThreads());
                        reckoned = true;
                        addToMargins(devices, projector_mem, margins);
                    }
                    addToMargins(devices, adapterMemory(path, mparams, adapters, display), margins);
                }
                // a draft model shares the devices: llama.cpp's fit counts it (its context follows the target's)
                llama_model_params extra_mp = draft_mparams;
                llama_context_params extra_cp = draftContextParams(fit_cparams, 0); // the fit sets its cells
                const common_fit_extra_model extra{draft_path.c_str(), &extra_mp, &extra_cp, false};
                AllocationWatch fit_watch; // llama.cpp says why a fit failed only in its log
                auto st = common_fit_params(path.c_str(), &mparams, &fit_cparams, split.data(), overrides.data(), margins.data(),
                                            std::min<uint32_t>(fit_cparams.n_ctx, 4096), spec_kind == "draft" ? &extra : nullptr, GGML_LOG_LEVEL_ERROR);
                if (st == COMMON_PARAMS_FIT_STATUS_ERROR) throw HearthError(codes::load_failed, "llama.cpp could not fit " + display + failedBecause(fit_watch));
                fitted = true;
                fits = st == COMMON_PARAMS_FIT_STATUS_SUCCESS;
            }
            mparams.progress_callback = onLoadProgress;
            mparams.progress_callback_user_data = state.get();
            LlamaUse use(LlamaUseKind::lengthy);
            AllocationWatch allocation;
            llama_model * m = llama_model_load_from_file(path.c_str(), mparams);
            state->releaseProgress();
            if (state->cancelled.load()) {
                if (m) llama_model_free(m);
                throw HearthError(codes::aborted, "model load cancelled");
            }
            if (!m && allocation.failed()) throw HearthError(codes::out_of_memory, "not enough memory to load " + display + ": llama.cpp could not allocate its weights (see the engine log)");
            if (!m) throw HearthError(codes::load_failed, "llama.cpp could not load " + display + failedBecause(allocation, "not a valid GGUF model or an unsupported architecture"));
            llama_model * d = nullptr;
            if (spec_kind == "draft") {
                // the compatibility of the two vocabularies is llama.cpp's check, run when a context starts
                // drafting (speculative.cpp: common_speculative_init)
                AllocationWatch draft_watch; // its own first error: the draft's reason
                draft_mparams.tensor_split = mparams.tensor_split; // the target's (the fit's, when it chose one), as llama-server's draft
                d = llama_model_load_from_file(draft_path.c_str(), draft_mparams);
                if (!d) {
                    llama_model_free(m);
                    if (allocation.failed() || draft_watch.failed()) throw HearthError(codes::out_of_memory, "not enough memory to load the draft model " + draft_display + " beside " + display);
                    throw HearthError(codes::load_failed, "llama.cpp could not load the draft model " + draft_display + " (the draft for " + display + ")" + failedBecause(draft_watch));
                }
            }
            auto h = std::make_shared<ModelHandle>();
            h->model = m;
            h->draft = d;
            h->draftPath = d ? draft_display : std::string();
            h->path = display;
            h->file_size = file_size;
            // a model loaded without weights (metadata only) never renders a chat: its template is not run
            if (!mparams.vocab_only && !mparams.no_alloc) {
                // common_chat_templates_init runs the template to learn what it supports; a template that
                // never ends keeps this thread here, and the host's watchdog restarts the host (no render
                // mark: a crash here is the load's)
                TemplateScope rendering(display, !chat_template.empty(), false);
                try {
                    h->templates = initTemplates(m, chat_template);
                } catch (const std::exception & e) {
                    // the user's own template (the model's chatTemplate setting) that fails is refused:
                    // the settings' preview shows why
                    if (!chat_template.empty()) throw HearthError(codes::invalid_argument, std::string("the chat template setting failed: ") + e.what());
                    // a broken template in the file must not make the model unusable for raw completion
                    h->templates.reset();
                }
                h->chat_template = chat_template;
            }
            if (!mmproj.empty()) {
                progressHere();
                const ggml_backend_dev_t device = projectorDevice(modelDevices(m), mparams);
                h->vision = loadVision(mmproj, m, device, defaultThreads(), reckoned && reckoned_device == device ? &projector_mem : nullptr);
                progressHere();
            }
            h->specKind = spec_kind;
            h->specParams = spec_params;
            h->fitted = fitted;
            h->fits = fits;
            h->fitGpuLayers = mparams.n_gpu_layers;
            h->fitContext = fit_cparams.n_ctx;
            if (fitted) {
                h->fitOverrides = describeOverrides(mparams.tensor_buft_overrides);
            }
            h->fingerprint = modelFingerprint(m, file_size);
            *result = h;
        },
        [result](Napi::Env env) -> Napi::Value {
            auto * ext = new std::shared_ptr<ModelHandle>(std::move(*result));
            auto external = Napi::External<std::shared_ptr<ModelHandle>>::New(env, ext,
                [](Napi::Env, std::shared_ptr<ModelHandle> * p) { delete p; });
            return constructor.New({external});
        });
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("promise", promise);
    handle.Set("cancel", Napi::Function::New(env, [state](const Napi::CallbackInfo &) { state->cancelled = true; }));
    return handle;
}

Napi::Value Model::Tokenize(const Napi::CallbackInfo & info) {
    LlamaUse use(LlamaUseKind::js); // llama.cpp may log while it tokenizes (llama_gate.h)
    Napi::Env env = info.Env();
    std::shared_ptr<ModelHandle> h = requireHandle();
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "tokenize(text, opts?): text must be a string");
    std::string text = info[0].As<Napi::String>().Utf8Value();
    Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    bool addSpecial = opts.Has("addSpecial") ? opts.Get("addSpecial").ToBoolean().Value() : true;
    bool parseSpecial = opts.Has("parseSpecial") ? opts.Get("parseSpecial").ToBoolean().Value() : false;
    std::vector<llama_token> toks = common_tokenize(llama_model_get_vocab(h->model), text, addSpecial, parseSpecial);
    Napi::Int32Array arr = Napi::Int32Array::New(env, toks.size());
    for (size_t i = 0; i < toks.size(); i++) arr[i] = toks[i];
    return arr;
}

Napi::Value Model::Detokenize(const Napi::CallbackInfo & info) {
    LlamaUse use(LlamaUseKind::js); // llama.cpp may log while it tokenizes (llama_gate.h)
    Napi::Env env = info.Env();
    std::shared_ptr<ModelHandle> h = requireHandle();
    if (info.Length() < 1 || !(info[0].IsTypedArray() || info[0].IsArray())) throw makeError(env, codes::invalid_argument, "detokenize(tokens): tokens must be an array");
    std::vector<llama_token> toks;
    const llama_vocab * vocab = llama_model_get_vocab(h->model);
    int32_t n_vocab = llama_vocab_n_tokens(vocab);
    Napi::Object arr = info[0].As<Napi::Object>();
    uint32_t n = arr.Get("length").As<Napi::Number>().Uint32Value();
    for (uint32_t i = 0; i < n; i++) {
        int32_t t = arr.Get(i).As<Napi::Number>().Int32Value();
        if (t < 0 || t >= n_vocab) throw makeError(env, codes::invalid_argument, "token id " + std::to_string(t) + " is outside the vocabulary");
        toks.push_back(t);
    }
    bool special = info.Length() > 1 && info[1].ToBoolean().Value();
    return Napi::String::New(env, common_detokenize(vocab, toks, special));
}

// applyChatTemplate(requestJson, template?) -> Promise<{ prompt, tokens, format, supportsThinking, thinkingStart, thinkingEnd }>,
// rendered on the libuv pool (a template may run long; the host's watchdog sees it there, see
// activity.h). `template`: a Jinja template to render with instead of the model's (a preview of the
// chatTemplate setting; a model loaded without weights renders only with one)
Napi::Value Model::ApplyChatTemplate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::shared_ptr<ModelHandle> h = requireHandle();
    auto req = std::make_shared<common_json>();
    if (info.Length() < 1 || !info[0].IsString()) throw HearthError(codes::invalid_argument, "applyChatTemplate(requestJson, template?): a JSON string is required");
    *req = common_json::parse_no_throw(info[0].As<Napi::String>().Utf8Value());
    if (req->is_discarded() || !req->is_object()) throw HearthError(codes::invalid_argument, "applyChatTemplate: the request is not a JSON object");
    const bool has_override = info.Length() > 1 && info[1].IsString();
    const std::string override_template = has_override ? info[1].As<Napi::String>().Utf8Value() : std::string();
    if (has_override && override_template.empty()) throw HearthError(codes::invalid_argument, "applyChatTemplate: the template is empty");
    auto r = std::make_shared<RenderedChat>();
    return AsyncTask::run(env,
        [h, req, r, override_template]() {
            LlamaUse use(LlamaUseKind::lengthy);
            try {
                if (override_template.empty()) {
                    *r = renderChat(*h, *req);
                } else {
                    common_chat_templates_ptr tmpls;
                    // the file's own template previewed is the file's; any other is the user's
                    const char * own = llama_model_chat_template(h->model, nullptr);
                    const bool given = own == nullptr || override_template != own;
                    {
                        TemplateScope rendering(h->path, given);
                        try {
                            tmpls = initTemplates(h->model, override_template);
                        } catch (const std::exception & e) {
                            throw HearthError(codes::invalid_argument, std::string("chat template failed: ") + e.what());
                        }
                    }
                    *r = renderChatWith(*h, tmpls.get(), given, *req);
                }
            } catch (const HearthError &) {
                throw;
            } catch (const std::exception & e) {
                throw HearthError(codes::invalid_argument, std::string("chat template: ") + e.what());
            }
        },
        [r](Napi::Env env) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("prompt", r->params.prompt);
            o.Set("tokens", (double) r->tokens.size());
            o.Set("format", common_chat_format_name(r->params.format));
            o.Set("supportsThinking", r->params.supports_thinking);
            // the tags a reasoning budget counts between (empty: the template has none the chat library found)
            o.Set("thinkingStart", r->params.thinking_start_tag);
            Napi::Array ends = Napi::Array::New(env, r->params.thinking_end_tags.size());
            for (size_t i = 0; i < r->params.thinking_end_tags.size(); i++) ends.Set((uint32_t) i, r->params.thinking_end_tags[i]);
            o.Set("thinkingEnd", ends);
            return o;
        });
}

// imageTokens([{ width, height }, ...]) -> Promise<number[]>: the positions an image of each size takes in
// a chat prompt (vision.h imageTokens), counted on the libuv pool under the projector's lock (an image
// encoding on a context's worker goes first). not_supported without a projector; invalid_argument for
// a size that is not whole numbers, under 1 or over MAX_IMAGE_PIXELS.
Napi::Value Model::ImageTokens(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::shared_ptr<ModelHandle> h = requireHandle();
    if (!h->vision) throw HearthError(codes::not_supported, "the model " + h->path + " has no projector (mmproj): it reads no images");
    if (info.Length() < 1 || !info[0].IsArray()) throw HearthError(codes::invalid_argument, "imageTokens(sizes): sizes must be an array of { width, height }");
    Napi::Array arr = info[0].As<Napi::Array>();
    auto sizes = std::make_shared<std::vector<std::pair<int64_t, int64_t>>>();
    auto dimension = [](const Napi::Value & d) -> int64_t {
        const double n = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : std::nan("");
        if (!std::isfinite(n) || n != std::floor(n)) throw HearthError(codes::invalid_argument, "imageTokens: an image's width and height must be whole numbers");
        return (int64_t) std::max(-1.0, std::min(n, 1e15)); // out of bounds either way: imageTokens says so
    };
    for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value s = arr.Get(i);
        if (!s.IsObject()) throw HearthError(codes::invalid_argument, "imageTokens(sizes): sizes must be an array of { width, height }");
        Napi::Object o = s.As<Napi::Object>();
        sizes->emplace_back(dimension(o.Get("width")), dimension(o.Get("height")));
    }
    auto out = std::make_shared<std::vector<size_t>>();
    return AsyncTask::run(env,
        [h, sizes, out]() {
            LlamaUse use; // mtmd tokenizes the marker's text with the model's vocab
            for (const auto & [w, ht] : *sizes) out->push_back(imageTokens(*h->vision, w, ht));
        },
        [out](Napi::Env env) -> Napi::Value {
            Napi::Array a = Napi::Array::New(env, out->size());
            for (size_t i = 0; i < out->size(); i++) a.Set((uint32_t) i, (double) (*out)[i]);
            return a;
        });
}

// fitResult() -> { fits, gpuLayers, contextSize, tensorOverrides } when the load ran llama.cpp's fitting, else null
Napi::Value Model::FitResult(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!handle_ || !handle_->fitted) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("fits", handle_->fits);
    o.Set("gpuLayers", handle_->fitGpuLayers);
    o.Set("contextSize", handle_->fitContext);
    Napi::Array ov = Napi::Array::New(env, handle_->fitOverrides.size());
    for (size_t i = 0; i < handle_->fitOverrides.size(); i++) ov.Set((uint32_t) i, handle_->fitOverrides[i]);
    o.Set("tensorOverrides", ov);
    return o;
}

// dispose() -> Promise<void>: the weights are freed on the libuv pool (unmapping tens of GB or freeing device
// memory takes a while, and the JS thread must go on answering), unless a context still holds them (then
// with its last one); the finalizer has nothing left to free. The promise settles once they are freed.
Napi::Value Model::Dispose(const Napi::CallbackInfo & info) {
    auto held = std::make_shared<std::shared_ptr<ModelHandle>>(std::move(handle_));
    return AsyncTask::run(info.Env(), [held] { held->reset(); }, [](Napi::Env env) { return env.Undefined(); });
}

} // namespace hearth
