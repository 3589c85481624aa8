#include "memory.h"
#include "llama_gate.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "activity.h"
#include "adapters.h"
#include "context.h"
#include "fit.h"
#include "ggml-backend.h"
#include "model.h"
#include "params.h"
#include "speculation.h"
#include "tensor_overrides.h"
#include "util.h"
#include "vision.h"
#include "weight_types.h"
#include "../src/llama-ext.h"

namespace hearth {


struct DeviceMem {
    std::string name, backend, description, type;
    int64_t total = 0, free = 0;
    size_t model = 0, context = 0, compute = 0, projector = 0;
};


static void describeDevice(DeviceMem & d, ggml_backend_dev_t dev) {
    d.name = ggml_backend_dev_name(dev);
    d.description = ggml_backend_dev_description(dev);
    d.backend = ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev));
    d.type = deviceTypeName(ggml_backend_dev_type(dev));
}

static Napi::Object memToJs(Napi::Env env, const DeviceMem & d, bool device) {
    Napi::Object o = Napi::Object::New(env);
    if (device) {
        o.Set("name", d.name);
        o.Set("backend", d.backend);
        o.Set("description", d.description);
        o.Set("type", d.type);
    }
    o.Set("total", (double) d.total);
    o.Set("free", (double) d.free);
    o.Set("model", (double) d.model);
    o.Set("context", (double) d.context);
    o.Set("compute", (double) d.compute);
    o.Set("projector", (double) d.projector);
    return o;
}

static Napi::Object resultToJs(Napi::Env env, const std::vector<DeviceMem> & devs, const DeviceMem & host) {
    Napi::Object o = Napi::Object::New(env);
    Napi::Array arr = Napi::Array::New(env, devs.size());
    for (size_t i = 0; i < devs.size(); i++) arr.Set((uint32_t) i, memToJs(env, devs[i], true));
    o.Set("devices", arr);
    o.Set("host", memToJs(env, host, false));
    return o;
}

// A draft model for speculative decoding (the load settings' draftModel): measured and fitted with the target.
struct DraftOf {
    std::string path; // empty: none
    llama_model_params mp{};
};

// The estimate and the fit refuse the files the load refuses for their tensors' types (weight_types.h).
static void refuseCompanions(const std::string & path, const DraftOf & draft, const std::string & mmproj) {
    refuseUncomputable(path, "the model " + path);
    refuseUncomputable(draft.path, "the draft model " + draft.path);
    refuseUncomputable(mmproj, "the projector " + mmproj, false);
}

// Whether `dev` is the host's memory (the CPU, or an accelerator that uses system RAM) rather than a device's own.
static bool onHost(ggml_backend_dev_t dev) {
    const auto t = ggml_backend_dev_type(dev);
    return t != GGML_BACKEND_DEVICE_TYPE_GPU && t != GGML_BACKEND_DEVICE_TYPE_IGPU;
}

// Where bytes of a projector or adapters go among `devices` (the model's, in its order) and the host:
// `at(i)` for the model's i-th device, `host` for system RAM. A share on a device the model does not use
// is not counted there (projectorDevice picks one of the model's own; a LoRA sits beside its tensor, a
// control vector beside its layer).
template <typename At, typename Host>
static void placeBytes(const DeviceBytes & pm, const std::vector<ggml_backend_dev_t> & devices, At at, Host host) {
    for (const auto & [dev, bytes] : pm) {
        if (onHost(dev)) {
            host(bytes);
            continue;
        }
        for (size_t i = 0; i < devices.size(); i++) {
            if (devices[i] == dev) at(i, bytes);
        }
    }
}

std::vector<ggml_backend_dev_t> llamaGpus() {
    std::vector<ggml_backend_dev_t> rpc, gpus, igpus;
    std::vector<std::string> ids; // of the GPUs kept, those that have one
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
        switch (ggml_backend_dev_type(dev)) {
            case GGML_BACKEND_DEVICE_TYPE_GPU: {
                if (reg && std::string(ggml_backend_reg_name(reg)) == "RPC") {
                    rpc.push_back(dev);
                    break;
                }
                ggml_backend_dev_props props;
                ggml_backend_dev_get_props(dev, &props);
                if (props.device_id && std::find(ids.begin(), ids.end(), props.device_id) != ids.end()) break;
                if (props.device_id) ids.push_back(props.device_id);
                gpus.push_back(dev);
                break;
            }
            case GGML_BACKEND_DEVICE_TYPE_IGPU:
                if (igpus.empty() || reg == ggml_backend_dev_backend_reg(igpus.back())) igpus.push_back(dev);
                break;
            default:
                break;
        }
    }
    std::vector<ggml_backend_dev_t> out = rpc;
    out.insert(out.end(), gpus.begin(), gpus.end());
    if (gpus.empty()) out.insert(out.end(), igpus.begin(), igpus.end());
    return out;
}

std::vector<ggml_backend_dev_t> modelDevices(const llama_model * model) {
    std::vector<ggml_backend_dev_t> devices;
    for (int i = 0; i < llama_model_n_devices(model); i++) devices.push_back(llama_model_get_device(model, i));
    return devices;
}

std::vector<ggml_backend_dev_t> modelDevices(const std::string & model_path, const llama_model_params & mp) {
    llama_model_params q = mp;
    q.vocab_only = true;
    q.progress_callback = nullptr;
    llama_model * m = llama_model_load_from_file(model_path.c_str(), q);
    if (!m) return {};
    std::vector<ggml_backend_dev_t> devices = modelDevices(m);
    llama_model_free(m);
    return devices;
}

void addToMargins(const std::vector<ggml_backend_dev_t> & devices, const DeviceBytes & pm, std::vector<size_t> & margins) {
    if (pm.empty() || margins.empty()) return;
    // with no device, the fit keeps its first margin free in system RAM; with devices, it checks theirs alone
    placeBytes(pm, devices, [&](size_t i, size_t b) { if (i < margins.size()) margins[i] += b; },
                   [&](size_t b) { if (devices.empty()) margins[0] += b; });
}

// the model parameters point into `split` (tensorSplit) and `overrides` (nCpuMoe, tensorOverrides),
// which the caller keeps alive; `draft`, when given, gets the draft model the settings name; `mmproj`
// and `adapters` the projector and the LoRA adapters and control vectors they load with
static void parseParams(const Napi::Value & v, llama_model_params & mp, llama_context_params & cp, std::vector<float> & split,
                        std::shared_ptr<const TensorOverrides> & overrides, DraftOf * draft = nullptr, std::string * mmproj = nullptr,
                        AdapterParams * adapters = nullptr) {
    EngineParams p = parseEngineParams(v);
    if (mmproj) *mmproj = p.load.no_alloc ? std::string() : p.load.mmproj;
    if (adapters) *adapters = p.load.no_alloc ? AdapterParams() : p.load.adapters;
    mp = p.load.model();
    cp = contextParams(p.context, nullptr);
    split = p.load.split();
    overrides = p.load.overrides();
    if (overrides) mp.tensor_buft_overrides = overrides->list.data();
    if (draft && p.load.speculativeKind() == "draft" && !p.load.draft_model.empty()) {
        draft->path = p.load.draft_model;
        draft->mp = p.load.draftModel(split.empty() ? nullptr : split.data()); // `split`: the caller keeps it alive
    }
}

// The model as the user knows it, where the host names it otherwise (/proc/self/fd/N, or a split model's
// folder of links: the file it checked): what the watchdog's activity names, so a verdict names the
// file the request did. Not a load parameter (paramsOf leaves it out).
static std::string displayPathOf(const Napi::CallbackInfo & info, const std::string & path) {
    return info.Length() > 1 && info[1].IsObject() ? optString(info[1].As<Napi::Object>(), "displayPath", path) : path;
}
static Napi::Value paramsOf(Napi::Env env, const Napi::CallbackInfo & info) {
    if (info.Length() < 2) return env.Undefined();
    return info[1].IsObject() ? Napi::Value(withoutKeys(env, info[1].As<Napi::Object>(), {"displayPath"})) : info[1];
}

Napi::Value EstimateMemory(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "estimateMemory(path, params)");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    llama_model_params mp;
    llama_context_params cp;
    auto split = std::make_shared<std::vector<float>>();
    std::shared_ptr<const TensorOverrides> overrides;
    DraftOf draft;
    std::string mmproj;
    AdapterParams adapters;
    const std::string display = displayPathOf(info, path);
    parseParams(paramsOf(env, info), mp, cp, *split, overrides, &draft, &mmproj, &adapters);
    if (!split->empty()) mp.tensor_split = split->data();
    auto devs = std::make_shared<std::vector<DeviceMem>>();
    auto host = std::make_shared<DeviceMem>();
    auto hp = std::make_shared<std::vector<uint32_t>>(4, 0);
    return AsyncTask::run(env,
        [path, display, mp, cp, devs, host, hp, split, overrides, draft, mmproj, adapters]() {
            LlamaAlone alone; // it swaps the process-wide logger (llama_gate.h)
            Activity fitting("fit", display); // watched by the host while it runs alone; its log lines are its progress
            refuseCompanions(path, draft, mmproj); // what the load refuses
            std::vector<ggml_backend_dev_t> dev_list;
            uint32_t ngl = 0, n_ctx_train = 0, n_expert = 0;
            common_device_memory_data_vec mem;
            {
                AllocationWatch watch; // llama.cpp says why its trial load failed only in its log
                try {
                    mem = common_get_device_memory_data(path.c_str(), &mp, &cp, dev_list, ngl, n_ctx_train, n_expert, GGML_LOG_LEVEL_ERROR);
                } catch (const std::exception & e) {
                    throw HearthError(codes::load_failed, "could not estimate memory for " + path + failedBecause(watch, e.what()));
                }
            }
            for (size_t i = 0; i + 1 < mem.size() && i < dev_list.size(); i++) {
                DeviceMem d;
                describeDevice(d, dev_list[i]);
                d.total = mem[i].total; d.free = mem[i].free;
                d.model = mem[i].model; d.context = mem[i].context; d.compute = mem[i].compute;
                devs->push_back(d);
            }
            const auto & h = mem.back();
            host->total = h.total; host->free = h.free; host->model = h.model; host->context = h.context; host->compute = h.compute;
            if (!draft.path.empty()) {
                // the draft model and its context (as many cells as the target's) on the same devices
                std::vector<ggml_backend_dev_t> ddevs;
                uint32_t dngl = 0, dctx = 0, dexp = 0;
                const llama_context_params dcp = draftContextParams(cp, n_ctx_train);
                common_device_memory_data_vec dmem;
                try {
                    dmem = common_get_device_memory_data(draft.path.c_str(), &draft.mp, &dcp, ddevs, dngl, dctx, dexp, GGML_LOG_LEVEL_ERROR);
                } catch (const std::exception & e) {
                    throw HearthError(codes::load_failed, std::string("could not estimate memory for the draft model ") + draft.path + ": " + e.what());
                }
                for (size_t j = 0; j + 1 < dmem.size() && j < ddevs.size(); j++) {
                    for (size_t i = 0; i < devs->size() && i < dev_list.size(); i++) {
                        if (dev_list[i] != ddevs[j]) continue;
                        (*devs)[i].model += dmem[j].model; (*devs)[i].context += dmem[j].context; (*devs)[i].compute += dmem[j].compute;
                    }
                }
                host->model += dmem.back().model; host->context += dmem.back().context; host->compute += dmem.back().compute;
            }
            if (!mmproj.empty()) {
                // the vision projector, as the load will place it (vision.h)
                // one llama.cpp cannot read counts nothing: a load drops a paired one and goes on without images
                // (library.ts loadPaired), and fails on a chosen one saying why
                const ProjectorMemory pm = projectorMemory(mmproj, projectorDevice(dev_list, mp), defaultThreads());
                placeBytes(pm, dev_list, [&](size_t i, size_t b) { if (i < devs->size()) (*devs)[i].projector += b; },
                           [&](size_t b) { host->projector += b; });
            }
            // LoRA adapters beside the tensors they change, control vectors beside their layers: in the
            // model's bytes, as the loaded breakdown counts them
            placeBytes(adapterMemory(path, mp, adapters, path), dev_list, [&](size_t i, size_t b) { if (i < devs->size()) (*devs)[i].model += b; },
                       [&](size_t b) { host->model += b; });
            (*hp)[0] = ngl; (*hp)[1] = n_ctx_train; (*hp)[2] = cp.n_ctx; (*hp)[3] = n_expert;
        },
        [devs, host, hp](Napi::Env env) -> Napi::Value {
            Napi::Object o = resultToJs(env, *devs, *host);
            o.Set("layers", (*hp)[0]);
            o.Set("trainedContext", (*hp)[1]);
            o.Set("contextSize", (*hp)[2]);
            o.Set("experts", (*hp)[3]);
            return o;
        });
}

Napi::Value FitParams(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "fitParams(path, params, opts)");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Object opts = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    llama_model_params mp;
    llama_context_params cp;
    double margin_mib, min_ctx;
    auto user_split = std::make_shared<std::vector<float>>();
    std::shared_ptr<const TensorOverrides> user_overrides; // refused with gpuLayers "auto" (params.cpp): the fit writes its own
    DraftOf draft;
    std::string mmproj;
    AdapterParams adapters;
    const std::string display = displayPathOf(info, path);
    parseParams(paramsOf(env, info), mp, cp, *user_split, user_overrides, &draft, &mmproj, &adapters);
    // "auto" context: 0 lets the fit choose (down to minContext); a number is kept as given
    if (optString(opts, "contextMode", "fixed") == "auto") cp.n_ctx = 0;
    margin_mib = optNumber(opts, "marginMiB", 1024);
    min_ctx = optNumber(opts, "minContext", 4096);
    if (margin_mib < 0 || min_ctx < 0) throw HearthError(codes::invalid_argument, "marginMiB and minContext must be >= 0");
    struct Out {
        int status = 0;
        int32_t ngl = 0;
        uint32_t n_ctx = 0;
        std::vector<float> split;
        std::vector<std::string> overrides;
    };
    auto out = std::make_shared<Out>();
    return AsyncTask::run(env,
        [path, display, mp, cp, margin_mib, min_ctx, out, user_split, user_overrides, draft, mmproj, adapters]() mutable {
            LlamaAlone alone; // it swaps the process-wide logger (llama_gate.h)
            Activity fitting("fit", display); // watched by the host while it runs alone; its log lines are its progress
            refuseCompanions(path, draft, mmproj); // what the load refuses
            const size_t nd = llama_max_devices();
            std::vector<float> split(nd, 0.0f); // where the fit writes its split (fit.h: at least llama_max_devices() entries)
            if (!user_split->empty()) mp.tensor_split = user_split->data();
            std::vector<llama_model_tensor_buft_override> overrides(llama_max_tensor_buft_overrides(), {nullptr, nullptr});
            std::vector<size_t> margins(nd, (size_t) (margin_mib * 1024 * 1024));
            // the vision projector shares them too: its bytes widen the margins where it goes, as llama-server's fit does;
            // so do LoRA adapters and control vectors (llama-server's fit leaves them out), where they go with the
            // layers as asked before the fit moves any (with every layer asked on the GPUs: all of them there, the
            // most they can take)
            if (!mmproj.empty() || adapters.takeMemory()) {
                const std::vector<ggml_backend_dev_t> devices = modelDevices(path, mp);
                if (!mmproj.empty()) addToMargins(devices, projectorMemory(mmproj, projectorDevice(devices, mp), defaultThreads()), margins);
                addToMargins(devices, adapterMemory(path, mp, adapters, path), margins);
            }
            // a draft model shares the devices: llama.cpp's fit counts it, its context following the target's
            llama_model_params dmp = draft.mp;
            llama_context_params dcp = draftContextParams(cp, 0); // the fit sets its cells
            const common_fit_extra_model extra{draft.path.c_str(), &dmp, &dcp, false};
            AllocationWatch fit_watch; // llama.cpp says why a fit failed only in its log
            common_params_fit_status st = common_fit_params(path.c_str(), &mp, &cp, split.data(), overrides.data(), margins.data(),
                                                            (uint32_t) min_ctx, draft.path.empty() ? nullptr : &extra, GGML_LOG_LEVEL_ERROR);
            if (st == COMMON_PARAMS_FIT_STATUS_ERROR) throw HearthError(codes::load_failed, "llama.cpp could not fit " + path + failedBecause(fit_watch));
            out->status = st;
            out->ngl = mp.n_gpu_layers;
            out->n_ctx = cp.n_ctx;
            // the fit points tensor_split at `split` when it writes one; it writes none over a split of the
            // user's (one with layers for a GPU the model uses: llama.cpp reads a split of zeros as none)
            if (mp.tensor_split == split.data()) out->split = split;
            // what the fit put where (for a MoE model: the experts it keeps in system RAM), as tensorOverrides
            out->overrides = describeOverrides(mp.tensor_buft_overrides);
        },
        [out](Napi::Env env) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("fits", out->status == COMMON_PARAMS_FIT_STATUS_SUCCESS);
            o.Set("gpuLayers", out->ngl);
            o.Set("contextSize", out->n_ctx);
            // the layers per GPU, indexed as llama.cpp numbers the GPUs (a GPU given none keeps its 0), up to the last
            // given any: empty when the fit chose no split (one GPU, everything fitted as asked, or the user's split)
            size_t used = out->split.size();
            while (used > 0 && !(out->split[used - 1] > 0)) used--;
            Napi::Array split = Napi::Array::New(env, used);
            for (size_t i = 0; i < used; i++) split.Set((uint32_t) i, out->split[i]);
            o.Set("tensorSplit", split);
            Napi::Array ov = Napi::Array::New(env, out->overrides.size());
            for (size_t i = 0; i < out->overrides.size(); i++) ov.Set((uint32_t) i, out->overrides[i]);
            o.Set("tensorOverrides", ov);
            return o;
        });
}

ContextMemory contextMemory(const llama_model * model, const llama_context * ctx, const llama_context * draft, const DeviceBytes & adapters) {
    const int nd = llama_model_n_devices(model);
    ContextMemory out;
    out.devices.resize(nd);
    for (const llama_context * c : {ctx, draft}) {
        if (!c) continue;
        for (const auto & [buft, mb] : llama_get_memory_breakdown(c)) {
            BufferUse * target = nullptr;
            if (ggml_backend_buft_is_host(buft)) target = &out.host;
            else {
                ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
                for (int i = 0; i < nd && dev; i++) if (dev == llama_model_get_device(model, i)) target = &out.devices[i];
            }
            if (!target) continue;
            target->model += mb.model;
            target->context += mb.context;
            target->compute += mb.compute;
        }
    }
    placeBytes(adapters, modelDevices(model), [&](size_t i, size_t b) { out.devices[i].model += b; }, [&](size_t b) { out.host.model += b; });
    return out;
}

static void setUse(DeviceMem & d, const BufferUse & u) {
    d.model = u.model;
    d.context = u.context;
    d.compute = u.compute;
}

Napi::Value memoryBreakdownToJs(Napi::Env env, const llama_model * model, const ContextMemory & use, const ProjectorMemory & projector) {
    LlamaUse gate_use(LlamaUseKind::js); // a backend may log while it reads its free memory (llama_gate.h)
    const int nd = llama_model_n_devices(model);
    std::vector<DeviceMem> devs(nd);
    for (int i = 0; i < nd; i++) {
        ggml_backend_dev_t dev = llama_model_get_device(model, i);
        describeDevice(devs[i], dev);
        size_t free = 0, total = 0;
        ggml_backend_dev_memory(dev, &free, &total);
        devs[i].free = (int64_t) free;
        devs[i].total = (int64_t) total;
        if (i < (int) use.devices.size()) setUse(devs[i], use.devices[i]);
    }
    DeviceMem host;
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (cpu) {
        size_t free = 0, total = 0;
        ggml_backend_dev_memory(cpu, &free, &total);
        host.free = (int64_t) free;
        host.total = (int64_t) total;
    }
    setUse(host, use.host);
    std::vector<ggml_backend_dev_t> model_devs;
    for (int i = 0; i < nd; i++) model_devs.push_back(llama_model_get_device(model, i));
    placeBytes(projector, model_devs, [&](size_t i, size_t b) { devs[i].projector += b; }, [&](size_t b) { host.projector += b; });
    return resultToJs(env, devs, host);
}

} // namespace hearth
