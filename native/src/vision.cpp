#include "vision.h"

#include "image_check.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <fstream>
#include <random>
#include <sstream>

#include "activity.h"
#include "errors.h"
#include "mtmd-helper.h"

// stb_image's header reader only (stbi_info_from_memory), private to this file: libmtmd decodes with its own copy
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_GIF
#define STBI_ONLY_BMP
#include "stb/stb_image.h"

namespace hearth {

// The most pixels one image may hold (8192 x 8192), and all the images of one request together:
// decoding holds width x height x 3 bytes per image until the projector has them all.
constexpr uint64_t MAX_IMAGE_PIXELS = 8192ull * 8192ull;
constexpr uint64_t MAX_REQUEST_PIXELS = 2 * MAX_IMAGE_PIXELS;

Vision::~Vision() {
    if (ctx) mtmd_free(ctx);
}

// The media marker: random per process (as llama-server's), so text a user types can never be taken
// for an image.
static const std::string & mediaMarker() {
    static const std::string marker = [] {
        std::random_device rd;
        std::mt19937_64 gen(rd());
        std::ostringstream s;
        s << "<__media_" << std::hex << gen() << "__>";
        return s.str();
    }();
    return marker;
}

ggml_backend_dev_t projectorDevice(const std::vector<ggml_backend_dev_t> & model_devices, const llama_model_params & mp) {
    if (mp.n_gpu_layers == 0) return nullptr;
    // a tensor split that gives a device no share leaves it without layers (all zero: by free memory)
    bool shares = false;
    for (size_t i = 0; mp.tensor_split && mp.split_mode != LLAMA_SPLIT_MODE_NONE && i < model_devices.size(); i++) shares = shares || mp.tensor_split[i] > 0;
    for (size_t i = 0; i < model_devices.size(); i++) {
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(model_devices[i]);
        if (reg && std::string(ggml_backend_reg_name(reg)) == "RPC") continue;
        if (shares && !(mp.tensor_split[i] > 0)) continue;
        return model_devices[i];
    }
    return nullptr;
}

// An image's encode runs the projector's graph on mtmd's own scheduler, which takes no abort callback.
// Its eval callback does the same work: asked before each node whether to stop after it, it stops after
// every ENCODE_NODES_PER_CHECK nodes, where it stamps progress for the watchdog and asks the encode's
// `aborted` (a "false" there ends the scheduler's split; the encode then returns and is refused). Set
// for the calling thread's encode only (the scheduler calls back on that thread): elsewhere (a
// reckoning's warmup computes nothing) the graph runs whole.
struct EncodeWatch {
    const std::function<bool()> & aborted;
    int since = 0;
    bool stopped = false;
};
static thread_local EncodeWatch * t_encode = nullptr;
// a ViT layer is some 20 to 30 nodes; each stop synchronizes the backend once
static constexpr int ENCODE_NODES_PER_CHECK = 32;

static bool encodeEval(ggml_tensor *, bool ask, void *) {
    EncodeWatch * w = t_encode;
    if (!w) return false;
    // once stopped, every node of any later split ends it
    if (ask) return w->stopped || ++w->since % ENCODE_NODES_PER_CHECK == 0;
    progressHere();
    if (!w->stopped && w->aborted()) w->stopped = true;
    return !w->stopped;
}

// The projector's parameters, one definition for the load and the memory reckoning. `warmup`: whether
// mtmd sizes its compute buffer for the largest image now (the reckoning: without it only the weights
// are counted; the load leaves it to the first image).
static mtmd_context_params visionParams(ggml_backend_dev_t device, int threads, const std::string & marker, bool warmup) {
    mtmd_context_params p = mtmd_context_params_default();
    p.use_gpu = device != nullptr;
    p.device = device;
    p.print_timings = false;
    p.n_threads = threads > 0 ? threads : p.n_threads;
    p.media_marker = marker.c_str();
    p.warmup = warmup;
    p.cb_eval = encodeEval;
    p.cb_eval_user_data = nullptr;
    return p;
}

// A projector's reckoning loads it whole (weights and a warmup): kept per file (fileIdentity; on Windows
// its path, size and modification time) and placement, so an estimate asked again (a settings slider
// moved) does not load it again.
ProjectorMemory projectorMemory(const std::string & path, ggml_backend_dev_t device, int threads) {
    static std::mutex mu;
    static std::map<std::string, ProjectorMemory> kept;
    constexpr size_t KEPT = 16;
    const std::string id = fileIdentity(path);
    std::string key = id;
    if (key.empty()) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        const auto mtime = ec ? std::filesystem::file_time_type{} : std::filesystem::last_write_time(path, ec);
        if (!ec) {
            std::ostringstream k;
            k << path << '\0' << size << '\0' << mtime.time_since_epoch().count();
            key = k.str();
        }
    }
    if (!key.empty()) {
        key += std::string(1, '\0') + (device ? ggml_backend_dev_name(device) : "");
        std::lock_guard<std::mutex> lock(mu);
        if (auto it = kept.find(key); it != kept.end()) return it->second;
    }
    ProjectorMemory pm;
    {
        // mtmd_get_memory_usage silences mtmd's log while it loads (a process-wide callback it saves and
        // restores, unlocked): two at once could restore the silence for good, so one at a time (what
        // another thread's mtmd logs meanwhile, a projector loading, is lost)
        static std::mutex reckoning;
        std::lock_guard<std::mutex> lock(reckoning);
        pm = mtmd_get_memory_usage(path.c_str(), visionParams(device, threads, mediaMarker(), true));
    }
    // kept only if the file read is the one keyed (by name, another may have been put in its place
    // meanwhile; on Windows, where there is no identity, a copy of the same size and write time is not told apart)
    if (!key.empty() && !pm.empty() && fileIdentity(path) == id) {
        std::lock_guard<std::mutex> lock(mu);
        if (kept.size() >= KEPT) kept.clear();
        kept[key] = pm;
    }
    return pm;
}

std::shared_ptr<Vision> loadVision(const std::string & path, const llama_model * model, ggml_backend_dev_t device, int threads, const ProjectorMemory * memory) {
    auto v = std::make_shared<Vision>();
    v->marker = mediaMarker();
    const mtmd_context_params p = visionParams(device, threads, v->marker, false);
    AllocationWatch allocation;
    v->ctx = mtmd_init_from_file(path.c_str(), model, p);
    if (!v->ctx && allocation.failed()) throw HearthError(codes::out_of_memory, "not enough memory to load the projector " + path);
    if (!v->ctx) throw HearthError(codes::load_failed, "llama.cpp could not load the projector (mmproj) " + path + " for this model (see the engine log)");
    if (!mtmd_support_vision(v->ctx)) throw HearthError(codes::load_failed, "the projector " + path + " does not take images");
    if (mtmd_decode_use_mrope(v->ctx)) {
        // M-RoPE (Qwen2-VL and its kind) gives an image fewer positions than tokens; the engine's slots
        // count one position per token
        throw HearthError(codes::not_supported, "the projector " + path + " uses M-RoPE positions, which Hearth does not support yet");
    }
    v->memory = memory ? *memory : projectorMemory(path, device, threads);
    return v;
}

const std::pair<const size_t, PromptImage> * PromptMedia::covering(size_t pos) const {
    auto it = images.upper_bound(pos);
    if (it == images.begin()) return nullptr;
    --it;
    return pos < it->first + it->second.n_tokens ? &*it : nullptr;
}

size_t PromptMedia::nextImage(size_t pos) const {
    auto it = images.lower_bound(pos);
    return it == images.end() ? std::string::npos : it->first;
}

static bool isImagePart(const common_json & p) {
    return p.is_object() && p.contains("type") && p.at("type").is_string() && p.at("type").get<std::string>() == "image";
}

bool hasImages(const common_json & messages) {
    if (!messages.is_array()) return false;
    for (const auto & m : messages) {
        if (!m.is_object() || !m.contains("content") || !m.at("content").is_array()) continue;
        for (const auto & p : m.at("content")) {
            if (isImagePart(p)) return true;
        }
    }
    return false;
}

static std::string base64Decode(const std::string & in) {
    static const auto table = [] {
        std::vector<int> t(256, -1);
        const char * a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; a[i]; i++) t[(unsigned char) a[i]] = i;
        t['-'] = 62; // the URL-safe alphabet too
        t['_'] = 63;
        return t;
    }();
    std::string out;
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        if (c == '=' ) break;
        if (c == '\n' || c == '\r' || c == ' ') continue;
        const int d = table[c];
        if (d < 0) throw HearthError(codes::invalid_argument, "an image's data is not base64");
        acc = (acc << 6) | (uint32_t) d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back((char) ((acc >> bits) & 0xFF));
        }
    }
    return out;
}

static std::string imageBytes(const common_json & part) {
    if (part.contains("data") && part.at("data").is_string()) {
        std::string data = part.at("data").get<std::string>();
        // a data URL: the part after the comma
        if (data.rfind("data:", 0) == 0) {
            const size_t comma = data.find(',');
            if (comma == std::string::npos) throw HearthError(codes::invalid_argument, "an image's data URL has no data");
            data = data.substr(comma + 1);
        }
        std::string bytes = base64Decode(data);
        if (bytes.empty()) throw HearthError(codes::invalid_argument, "an image's data is empty");
        return bytes;
    }
    if (part.contains("path") && part.at("path").is_string()) {
        const std::string path = part.at("path").get<std::string>();
        std::ifstream f(path, std::ios::binary);
        if (!f) throw HearthError(codes::invalid_argument, "cannot read the image " + path);
        std::ostringstream s;
        s << f.rdbuf();
        std::string bytes = s.str();
        if (bytes.empty()) throw HearthError(codes::invalid_argument, "the image " + path + " is empty");
        return bytes;
    }
    throw HearthError(codes::invalid_argument, "an image part needs data (base64) or a path");
}

common_json withMediaMarkers(const Vision & v, const common_json & messages, std::vector<std::string> & images) {
    common_json out = messages;
    for (auto & m : out) {
        if (!m.is_object() || !m.contains("content") || !m.at("content").is_array()) continue;
        for (auto & p : m.at("content")) {
            if (!isImagePart(p)) continue;
            images.push_back(imageBytes(p));
            p = common_json{{"type", "media_marker"}, {"text", v.marker}};
        }
    }
    return out;
}

// An image chunk's placeholder tokens, one per position it takes: negative (never -1), each
// PLACEHOLDER_BITS bits of the image's id (mtmd's SHA-256 of the file, in hex), position i of the chunk
// taking the bits from bit PLACEHOLDER_BITS * i on, around the end of the 256 (the chunks of a tiled
// image, llava-uhd's, share the id and so repeat the run). Reuse compares positions one by one, so a
// chunk of ceil(256 / PLACEHOLDER_BITS) = 9 positions or more (a chunk takes dozens) is taken for
// another only if their whole hashes agree; a shorter one on PLACEHOLDER_BITS bits a position. An
// image without such an id (mtmd calls it optional) is refused rather than compared on less.
constexpr size_t PLACEHOLDER_BITS = 30; // a placeholder -2 - v, v < 2^30, stays within llama_token's int32
static void placeholders(const std::string & id, size_t n, std::vector<llama_token> & out) {
    auto hexValue = [](char c) { return std::isdigit((unsigned char) c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1; };
    std::vector<uint8_t> bytes;
    for (size_t i = 0; id.size() == 64 && i < id.size(); i += 2) {
        const int hi = hexValue(id[i]), lo = hexValue(id[i + 1]);
        if (hi < 0 || lo < 0) break;
        bytes.push_back((uint8_t) (hi << 4 | lo));
    }
    if (bytes.size() != 32) throw HearthError(codes::internal, "an image came from mtmd without its SHA-256 id, which the cache compares images by");
    const size_t nbits = bytes.size() * 8;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0;
        for (size_t b = 0, at = (i * PLACEHOLDER_BITS) % nbits; b < PLACEHOLDER_BITS; b++, at = (at + 1) % nbits) v = v << 1 | ((bytes[at / 8] >> (7 - at % 8)) & 1);
        out.push_back(-2 - (llama_token) v);
    }
}

// The image formats read (stb_image's, as mtmd decodes them), by their leading bytes: anything else is
// refused before mtmd sees it (its helper would hand other bytes to an audio decoder or to ffmpeg).
static bool isImageFormat(const std::string & b) {
    auto starts = [&](const char * magic, size_t n) { return b.size() >= n && std::memcmp(b.data(), magic, n) == 0; };
    return starts("\x89PNG\r\n\x1a\n", 8) || starts("\xFF\xD8\xFF", 3) || starts("GIF87a", 6) || starts("GIF89a", 6) || starts("BM", 2);
}

std::vector<llama_token> tokenizeWithImages(Vision & v, const std::string & prompt, const std::vector<std::string> & images, PromptMedia & media) {
    std::vector<mtmd::bitmap> bitmaps;
    uint64_t pixels = 0;
    for (size_t i = 0; i < images.size(); i++) {
        const std::string & bytes = images[i];
        const std::string which = "image " + std::to_string(i + 1);
        if (!isImageFormat(bytes)) throw HearthError(codes::invalid_argument, which + " is not a PNG, JPEG, GIF or BMP file");
        // its size before anything is decoded: a small file can declare a huge image (stb_image would
        // allocate width x height x 3 bytes)
        int iw = 0, ih = 0, comp = 0;
        if (!stbi_info_from_memory((const stbi_uc *) bytes.data(), (int) std::min<size_t>(bytes.size(), INT32_MAX), &iw, &ih, &comp)) {
            throw HearthError(codes::invalid_argument, which + " could not be decoded (PNG, JPEG, BMP or GIF)");
        }
        if ((uint64_t) iw * (uint64_t) ih > MAX_IMAGE_PIXELS) {
            throw HearthError(codes::invalid_argument, which + " is " + std::to_string(iw) + "x" + std::to_string(ih) + " pixels; at most " +
                                                           std::to_string(MAX_IMAGE_PIXELS) + " pixels are read (scale it down)");
        }
        pixels += (uint64_t) iw * (uint64_t) ih;
        if (pixels > MAX_REQUEST_PIXELS) {
            throw HearthError(codes::invalid_argument, "the images of one request hold more than " + std::to_string(MAX_REQUEST_PIXELS) + " pixels together (send fewer or smaller ones)");
        }
        const std::string problem = imageDataProblem(bytes, which);
        if (!problem.empty()) throw HearthError(codes::invalid_argument, problem);
        progressHere(); // decoding a large image takes a while
        mtmd_helper_bitmap_wrapper w = mtmd_helper_bitmap_init_from_buf(v.ctx, (const unsigned char *) bytes.data(), bytes.size(), false, mtmd_helper_init_opt_default());
        if (w.video_ctx) {
            // never for the formats above (mtmd is built without video); a lazy bitmap would read from it
            mtmd_helper_video_free(w.video_ctx);
            if (w.bitmap) mtmd_bitmap_free(w.bitmap);
            throw HearthError(codes::invalid_argument, which + " is not a still image");
        }
        if (!w.bitmap) throw HearthError(codes::invalid_argument, which + " could not be decoded (PNG, JPEG, BMP or GIF)");
        mtmd::bitmap b(w.bitmap);
        if (mtmd_bitmap_is_audio(w.bitmap)) throw HearthError(codes::not_supported, which + " is audio");
        bitmaps.push_back(std::move(b));
    }
    std::vector<const mtmd_bitmap *> ptrs;
    for (auto & b : bitmaps) ptrs.push_back(b.ptr.get());
    mtmd_input_text text{prompt.c_str(), prompt.size(), true, true};
    mtmd::input_chunks_ptr chunks(mtmd_input_chunks_init());
    progressHere();
    const int32_t rc = mtmd_tokenize(v.ctx, chunks.get(), &text, ptrs.data(), ptrs.size());
    progressHere();
    if (rc == 1) throw HearthError(codes::invalid_argument, "the rendered prompt has a different number of image markers than images (" + std::to_string(images.size()) + ")");
    if (rc != 0) throw HearthError(codes::invalid_argument, "an image could not be prepared for the projector");
    std::vector<llama_token> tokens;
    for (size_t i = 0; i < mtmd_input_chunks_size(chunks.get()); i++) {
        const mtmd_input_chunk * c = mtmd_input_chunks_get(chunks.get(), i);
        if (mtmd_input_chunk_get_type(c) == MTMD_INPUT_CHUNK_TYPE_TEXT) {
            size_t n = 0;
            const llama_token * t = mtmd_input_chunk_get_tokens_text(c, &n);
            tokens.insert(tokens.end(), t, t + n);
            continue;
        }
        PromptImage img;
        img.chunk.reset(mtmd_input_chunk_copy(c));
        img.n_tokens = mtmd_input_chunk_get_n_tokens(c);
        const char * id = mtmd_input_chunk_get_id(c);
        img.id = id ? id : "";
        const size_t start = tokens.size();
        placeholders(img.id, img.n_tokens, tokens);
        media.images.emplace(start, std::move(img));
    }
    return tokens;
}

// The tokens of a prompt holding only the media marker, tokenized with `bmp` (no special tokens of the
// vocab's own: only what the marker becomes); mtmd's return code (0: done) into `rc`.
static size_t markerTokens(const Vision & v, const mtmd_bitmap * bmp, int32_t & rc) {
    mtmd_input_text text{v.marker.c_str(), v.marker.size(), false, true};
    mtmd::input_chunks_ptr chunks(mtmd_input_chunks_init());
    rc = mtmd_tokenize(v.ctx, chunks.get(), &text, &bmp, 1);
    if (rc != 0) return 0;
    size_t n = 0;
    for (size_t i = 0; i < mtmd_input_chunks_size(chunks.get()); i++) n += mtmd_input_chunk_get_n_tokens(mtmd_input_chunks_get(chunks.get(), i));
    return n;
}

size_t imageTokens(Vision & v, int64_t width, int64_t height) {
    const std::string size = std::to_string(width) + "x" + std::to_string(height);
    if (width < 1 || height < 1) throw HearthError(codes::invalid_argument, "an image of " + size + " pixels: its width and height must be at least 1");
    if ((uint64_t) width > MAX_IMAGE_PIXELS || (uint64_t) height > MAX_IMAGE_PIXELS || (uint64_t) width * (uint64_t) height > MAX_IMAGE_PIXELS) {
        throw HearthError(codes::invalid_argument, "an image of " + size + " pixels; at most " + std::to_string(MAX_IMAGE_PIXELS) + " pixels are read");
    }
    const auto key = std::make_pair((uint32_t) width, (uint32_t) height);
    std::lock_guard<std::mutex> lock(v.count_mu);
    if (auto hit = v.image_tokens.find(key); hit != v.image_tokens.end()) return hit->second;
    // a bitmap without pixels (mtmd's placeholder, made for counting): laid out as the image would be,
    // nothing resampled; a preprocessor that cannot take one gets as many zeroed pixels
    int32_t rc = 0;
    size_t n = 0;
    {
        mtmd::bitmap empty(mtmd_bitmap_init(key.first, key.second, nullptr));
        n = markerTokens(v, empty.ptr.get(), rc);
    }
    if (rc != 0) {
        mtmd::bitmap black;
        {
            const std::vector<unsigned char> zeros((size_t) width * (size_t) height * 3, 0);
            black.ptr.reset(mtmd_bitmap_init(key.first, key.second, zeros.data())); // copies them
        }
        n = markerTokens(v, black.ptr.get(), rc);
    }
    if (rc != 0) throw HearthError(codes::invalid_argument, "the projector could not lay out an image of " + size + " pixels (see the engine log)");
    if (v.image_tokens.size() >= IMAGE_TOKENS_CACHED) v.image_tokens.clear();
    v.image_tokens.emplace(key, n);
    return n;
}

std::vector<float> encodeImage(Vision & v, llama_context * lctx, const PromptImage & img, const std::function<bool()> & aborted) {
    const size_t n_embd = (size_t) llama_model_n_embd_inp(llama_get_model(lctx));
    // the projector's encoder is the model's, shared by its contexts: another context's encode is waited
    // for (watched on its own thread: this one is excused), stoppably
    std::unique_lock<std::timed_mutex> lock(v.mu, std::defer_lock);
    while (!lock.try_lock_for(std::chrono::milliseconds(50))) {
        if (Activity * a = Activity::current()) a->excuse();
        if (aborted()) throw HearthError(codes::aborted, "the request was aborted while another context encoded an image");
    }
    if (aborted()) throw HearthError(codes::aborted, "the request was aborted before its image was encoded");
    AllocationWatch allocation;
    EncodeWatch watch{aborted};
    int32_t rc;
    {
        struct Watching {
            explicit Watching(EncodeWatch * w) { t_encode = w; }
            ~Watching() { t_encode = nullptr; } // when mtmd throws too
        } watching(&watch);
        rc = mtmd_encode_chunk(v.ctx, img.chunk.get());
    }
    if (watch.stopped) throw HearthError(codes::aborted, "the request was aborted while its image was encoded");
    if (rc != 0) {
        throw HearthError(decodeFailure(-2, allocation.failed()) == codes::out_of_memory ? codes::out_of_memory : codes::decode_failed,
                          "the projector could not encode an image");
    }
    const float * out = mtmd_get_output_embd(v.ctx);
    std::vector<float> embd(out, out + n_embd * img.n_tokens);
    progressHere();
    return embd;
}

void decodeImage(Vision & v, llama_context * lctx, const PromptImage & img, std::vector<float> & embd, int n_past, int seq, int n_batch) {
    // a projector whose image attends both ways (Gemma 3's and its kind) needs the whole image in one
    // micro-batch: llama.cpp asserts on a non-causal batch larger than n_ubatch
    if (mtmd_decode_use_non_causal(v.ctx, img.chunk.get()) && img.n_tokens > (size_t) llama_n_ubatch(lctx)) {
        throw HearthError(codes::invalid_argument, "an image takes " + std::to_string(img.n_tokens) + " tokens, read in one micro-batch by this projector, but the micro-batch is " +
                                                       std::to_string(llama_n_ubatch(lctx)) + " (raise the micro-batch size to at least " + std::to_string(img.n_tokens) + ")");
    }
    llama_pos new_n_past = 0;
    AllocationWatch allocation;
    const int32_t rc = mtmd_helper_decode_image_chunk(v.ctx, lctx, img.chunk.get(), embd.data(), n_past, seq, n_batch, &new_n_past, nullptr, nullptr);
    progressHere();
    if (rc == 2) throw HearthError(codes::aborted, "the decode of an image's embeddings was aborted");
    if (rc != 0) throw HearthError(decodeFailure(rc, allocation.failed()), "llama_decode failed for an image's embeddings (code " + std::to_string(rc) + ")");
}

} // namespace hearth
