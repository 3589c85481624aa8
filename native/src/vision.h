// Images (vision models) through llama.cpp's libmtmd: a model's projector (mmproj), a chat's image parts
// tokenized with the template's media marker, and an image's embeddings decoded on a slot's sequence.
//
// A prompt with images is one token list as any other: an image's positions hold placeholder "tokens"
// (negative, derived from the image's hash and the position), so the KV prefix reuse compares images like text (the same
// image at the same place is reused, another one is not), and the sequence's cached tokens record them
// the same way. PromptMedia maps each image's first position to its mtmd chunk.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "json.h"
#include "llama.h"
#include "mtmd.h"
#include "util.h"

namespace hearth {

struct ModelHandle;

// A projector's memory per device: its weights and its largest compute buffer, as libmtmd reckons it
// (mtmd_get_memory_usage, what llama-server adds to its fit's margins). Empty: mtmd could not read it.
using ProjectorMemory = DeviceBytes;

// The most image sizes a projector remembers the tokens of (imageTokens): past it, it starts over.
constexpr size_t IMAGE_TOKENS_CACHED = 256;

// A model's projector, shared by every context of the model. Encoding is not thread-safe: `mu` (timed:
// a context waiting for another's encode stays stoppable).
struct Vision {
    mtmd_context * ctx = nullptr;
    std::string marker;
    ProjectorMemory memory; // reckoned when it loaded, with the same parameters (the memory breakdown shows it)
    std::timed_mutex mu;
    // imageTokens' answers by width x height (at most IMAGE_TOKENS_CACHED), under their own lock: counting
    // tokenizes, as a prompt does, without the encoder, so it never waits for an image's encoding
    std::mutex count_mu;
    std::map<std::pair<uint32_t, uint32_t>, size_t> image_tokens;
    ~Vision();
};

// Where a projector loaded beside a model (loaded with `mp`) goes: the first of the model's devices that
// takes a share of its layers (with split mode none, its main GPU) and is on this machine, when the model
// has GPU layers; nullptr: the CPU. An RPC server's device is never chosen: llama.cpp lists those first,
// and the whole encoder would run across the network (mtmd has no CPU fallback for an RPC device).
// `model_devices` are the model's devices in llama.cpp's order (modelDevices). Every load, estimate and fit
// decides it by this. (llama-server leaves it to mtmd, which takes the system's first GPU.)
ggml_backend_dev_t projectorDevice(const std::vector<ggml_backend_dev_t> & model_devices, const llama_model_params & mp);

// Loads the projector at `path` for `model`, on `device` (projectorDevice; nullptr: the CPU). Throws
// HearthError(load_failed) when mtmd refuses it. `memory`: its projectorMemory on the same device when the
// caller has it (else reckoned here).
std::shared_ptr<Vision> loadVision(const std::string & path, const llama_model * model, ggml_backend_dev_t device, int threads, const ProjectorMemory * memory = nullptr);

// What the projector at `path` would take on `device`, loaded as loadVision loads it, without loading it
// (no allocation). Empty when mtmd cannot read the file.
ProjectorMemory projectorMemory(const std::string & path, ggml_backend_dev_t device, int threads);

// The images of a prompt: first position -> its chunk.
struct PromptImage {
    mtmd::input_chunk_ptr chunk;
    size_t n_tokens = 0;
    std::string id;
};
struct PromptMedia {
    std::map<size_t, PromptImage> images;
    // the image whose positions include `pos`, or null
    const std::pair<const size_t, PromptImage> * covering(size_t pos) const;
    // the first image position at or after `pos` (npos: none)
    size_t nextImage(size_t pos) const;
};

// A placeholder token (an image's positions) is negative; LLAMA_TOKEN_NULL (-1) is not one.
inline bool isImageToken(llama_token t) { return t < -1; }

// Whether any message has an image part ({type: "image", data: base64} or {type: "image", path}).
bool hasImages(const common_json & messages);

// The messages with every image part replaced by the projector's media marker, as llama.cpp's chat
// code takes them; the images' bytes (decoded base64, or the file read) in order into `images`.
common_json withMediaMarkers(const Vision & v, const common_json & messages, std::vector<std::string> & images);

// Tokenizes a rendered prompt holding media markers with its images; the placeholders and chunks
// go to `media`. Throws HearthError(invalid_argument) when an image cannot be decoded, and
// HearthError(internal) when mtmd gives one no SHA-256 id (placeholders in vision.cpp).
std::vector<llama_token> tokenizeWithImages(Vision & v, const std::string & prompt, const std::vector<std::string> & images, PromptMedia & media);

// The positions an image of width x height pixels takes in a prompt, as tokenizeWithImages lays it out:
// everything the media marker becomes once mtmd has tokenized it with such an image (the image's chunk,
// and any text the projector puts around it), one position per token (M-RoPE is refused at load).
// Nothing is decoded or encoded; remembered per size on `v`. Throws HearthError(invalid_argument) for a
// width or height under 1 or more than MAX_IMAGE_PIXELS pixels, or a size the projector refuses.
size_t imageTokens(Vision & v, int64_t width, int64_t height);

// Encodes the image with the projector: its embeddings, n_embd_inp floats per image token. Throws
// HearthError (decode_failed, out_of_memory) when mtmd fails, and (aborted) when `aborted` answers true
// while the projector encodes (asked every few of its graph's nodes, where the encode also stamps
// progress) or while it waits for another context's encode.
std::vector<float> encodeImage(Vision & v, llama_context * lctx, const PromptImage & img, const std::function<bool()> & aborted);

// Decodes an encoded image's embeddings at position n_past of `seq` in `lctx`, in batches of n_batch.
// Throws HearthError (aborted) when lctx's abort callback stopped a decode (what was decoded stays in
// the cache: the caller drops it), (decode_failed, out_of_memory) when llama.cpp fails, and
// (invalid_argument) for a two-way image larger than the micro-batch.
void decodeImage(Vision & v, llama_context * lctx, const PromptImage & img, std::vector<float> & embd, int n_past, int seq, int n_batch);

} // namespace hearth
