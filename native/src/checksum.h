// Session files' checksum of their state (native/src/session.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hearth {

// A checksum for damage, not for an adversary: four lanes of a 64-bit multiply-rotate mix over
// 8-byte words, in blocks of 32 bytes from the start; the bytes past the last block one at a time, into
// lane (offset mod 4); then the length (test/helpers/sessions.ts has the same definition)
inline uint64_t checksumMix(uint64_t h, uint64_t w) {
    h ^= w * 0x9E3779B97F4A7C15ull;
    h = (h << 31) | (h >> 33);
    return h * 0xC2B2AE3D27D4EB4Full;
}

class Checksum {
public:
    void update(const uint8_t * p, size_t n) {
        total_ += n;
        while (n > 0) {
            if (pending_n_ == 0 && n >= 32) {
                block(p);
                p += 32;
                n -= 32;
                continue;
            }
            const size_t take = std::min(n, 32 - pending_n_);
            std::memcpy(pending_ + pending_n_, p, take);
            pending_n_ += take;
            p += take;
            n -= take;
            if (pending_n_ == 32) {
                block(pending_);
                pending_n_ = 0;
            }
        }
    }
    uint64_t final() const {
        uint64_t l[4] = {lanes_[0], lanes_[1], lanes_[2], lanes_[3]};
        for (size_t i = 0; i < pending_n_; i++) l[i % 4] = checksumMix(l[i % 4], pending_[i]);
        return checksumMix(checksumMix(checksumMix(checksumMix(total_, l[0]), l[1]), l[2]), l[3]);
    }

private:
    void block(const uint8_t * p) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            std::memcpy(&w, p + 8 * l, 8);
            lanes_[l] = checksumMix(lanes_[l], w);
        }
    }
    uint64_t lanes_[4] = {1, 2, 3, 4};
    uint8_t pending_[32] = {};
    size_t pending_n_ = 0;
    uint64_t total_ = 0;
};

} // namespace hearth
