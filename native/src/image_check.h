// What stb_image (inside mtmd) would spend on an image beyond its pixels, checked before it decodes:
// a PNG's compressed data may inflate far past what its declared size needs (stb grows its buffer
// until the stream ends, up to 2 GiB, for a 1x1 image), and a progressive JPEG may hold any number
// of scans (stb walks every block once per scan: seconds each at 8192x8192).
#pragma once

#include <string>

namespace hearth {

// The most scans a JPEG may have (libjpeg's progressive script writes 10; optimizers a few dozen).
constexpr int MAX_JPEG_SCANS = 100;

// Why `bytes` (an image file whose size its header gave) must not be decoded; empty: it may be.
// `which` names it in the words ("image 2").
std::string imageDataProblem(const std::string & bytes, const std::string & which);

} // namespace hearth
