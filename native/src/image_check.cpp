#include "image_check.h"

#include <cstdint>
#include <cstring>
#include <vector>

// stb_image's zlib decoder, as libmtmd builds it (tools/mtmd/mtmd-helper.cpp): into a buffer of a
// given size, failing when the stream needs more
extern "C" int stbi_zlib_decode_buffer(char * obuffer, int olen, const char * ibuffer, int ilen);

namespace hearth {

namespace {

uint32_t be32(const unsigned char * p) { return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3]; }

// The bytes a PNG's pixel rows take inflated (a filter byte each), or 0 when its header cannot say.
uint64_t pngRawSize(uint32_t w, uint32_t h, int bit_depth, int color_type, bool interlaced) {
    int channels = 0;
    switch (color_type) {
        case 0: channels = 1; break;
        case 2: channels = 3; break;
        case 3: channels = 1; break;
        case 4: channels = 2; break;
        case 6: channels = 4; break;
        default: return 0;
    }
    const uint64_t bits = (uint64_t) channels * (uint64_t) bit_depth;
    auto rows = [&](uint64_t cols, uint64_t n) { return cols == 0 || n == 0 ? 0 : n * (1 + (cols * bits + 7) / 8); };
    if (!interlaced) return rows(w, h);
    // Adam7: seven passes over sub-grids (x0, y0, dx, dy)
    static const int pass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    uint64_t total = 0;
    for (const auto & p : pass) {
        const uint64_t cols = w > (uint32_t) p[0] ? (w - p[0] + p[2] - 1) / p[2] : 0;
        const uint64_t n = h > (uint32_t) p[1] ? (h - p[1] + p[3] - 1) / p[3] : 0;
        total += rows(cols, n);
    }
    return total;
}

std::string pngProblem(const std::string & bytes, const std::string & which) {
    const auto * b = (const unsigned char *) bytes.data();
    const size_t n = bytes.size();
    uint64_t raw = 0;
    std::string idat;
    for (size_t at = 8; at + 12 <= n;) {
        const uint32_t len = be32(b + at);
        if (len > n - at - 12) break; // truncated: stb says so
        const char * type = (const char *) b + at + 4;
        const unsigned char * data = b + at + 8;
        // Apple's CgBI PNG: stb inflates its data without a zlib header, so what the check below reads
        // with one could be another stream to stb (and it is no standard PNG)
        if (std::memcmp(type, "CgBI", 4) == 0) return which + " is an Apple-optimized PNG (CgBI), not a standard one (save it again as an ordinary PNG)";
        if (std::memcmp(type, "IHDR", 4) == 0 && len >= 13) raw = pngRawSize(be32(data), be32(data + 4), data[8], data[9], data[12] != 0);
        if (std::memcmp(type, "IDAT", 4) == 0) idat.append((const char *) data, len);
        if (std::memcmp(type, "IEND", 4) == 0) break;
        at += 12 + (size_t) len;
    }
    if (raw == 0 || idat.empty()) return ""; // stb refuses it itself
    if (raw >= INT32_MAX || idat.size() >= INT32_MAX) return which + " is too large to decode";
    // one byte more than its rows need: a stream that fills it holds more than the image
    std::vector<char> out((size_t) raw + 1);
    const int got = stbi_zlib_decode_buffer(out.data(), (int) out.size(), idat.data(), (int) idat.size());
    if (got < 0 || (uint64_t) got > raw) return which + " could not be decoded, or its compressed data holds more than its pixels need";
    return "";
}

std::string jpegProblem(const std::string & bytes, const std::string & which) {
    const auto * b = (const unsigned char *) bytes.data();
    const size_t n = bytes.size();
    int scans = 0;
    size_t at = 2; // after SOI
    while (at + 1 < n) {
        if (b[at] != 0xFF) { at++; continue; } // stb skips such bytes too
        while (at < n && b[at] == 0xFF) at++; // fill bytes
        if (at >= n) break;
        const unsigned char m = b[at++];
        if (m == 0xD9) break;                                   // EOI
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;    // markers without a length
        if (at + 2 > n) break;
        const size_t len = (size_t) b[at] << 8 | b[at + 1];
        if (len < 2) break;
        at += len;
        if (m != 0xDA) continue;
        if (++scans > MAX_JPEG_SCANS) return which + " is a JPEG of more than " + std::to_string(MAX_JPEG_SCANS) + " scans (save it again as an ordinary JPEG)";
        // the scan's entropy-coded data runs to the next marker (0xFF then neither 0x00 nor a restart)
        while (at + 1 < n && !(b[at] == 0xFF && b[at + 1] != 0x00 && !(b[at + 1] >= 0xD0 && b[at + 1] <= 0xD7))) at++;
    }
    return "";
}

} // namespace

std::string imageDataProblem(const std::string & bytes, const std::string & which) {
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return pngProblem(bytes, which);
    if (bytes.size() >= 3 && std::memcmp(bytes.data(), "\xFF\xD8\xFF", 3) == 0) return jpegProblem(bytes, which);
    return "";
}

} // namespace hearth
