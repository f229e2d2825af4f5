// Random numbers for the simulators: xoshiro256++ streams seeded through splitmix64, so that
// (seed, stream) fully determines a sequence whatever thread runs it.
//
// Normals come from a 256-layer ziggurat (Marsaglia & Tsang 2000) driven by one 64-bit draw per
// sample on the fast path (8 bits pick the layer, 1 bit the sign, 52 bits the abscissa), which
// is accepted ~98.8% of the time; the wedges use an exact rejection test against exp(-x^2/2)
// and the tail beyond r = 3.654... Marsaglia's exponential method, so the samples are exactly
// standard normal (up to the 52-bit resolution of the abscissa). The tables are built once, at
// first use (thread-safe static initialisation).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace statmech_nn {

inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

namespace detail {

// Ziggurat tables for the unnormalised density f(x) = exp(-x^2 / 2), 256 layers of equal area
// v; layer 0 is the base strip (rectangle of width v / f(r) plus the tail beyond r).
struct ZigguratTables {
    static constexpr double r = 3.6541528853610088;
    static constexpr double v = 4.92867323399e-3;
    std::uint64_t k[256];  // fast acceptance: j < k[i]  <=>  j * w[i] < x[i+1]
    double w[256];         // x[i] / 2^52
    double f[257];         // f(x[i]), f[256] = 1 (top of the ziggurat)

    ZigguratTables() {
        double x[257];
        x[0] = v / std::exp(-0.5 * r * r);
        x[1] = r;
        for (int i = 1; i < 255; ++i) x[i + 1] = std::sqrt(-2.0 * std::log(v / x[i] + std::exp(-0.5 * x[i] * x[i])));
        x[256] = 0.0;
        const double two52 = 4503599627370496.0;  // 2^52
        for (int i = 0; i < 256; ++i) {
            k[i] = static_cast<std::uint64_t>(two52 * (x[i + 1] / x[i]));
            w[i] = x[i] / two52;
            f[i] = std::exp(-0.5 * x[i] * x[i]);
        }
        f[256] = 1.0;
    }
};

inline const ZigguratTables& ziggurat_tables() {
    static const ZigguratTables tables;
    return tables;
}

}  // namespace detail

class Rng {
public:
    // Independent stream `stream` of the generator seeded with `seed`.
    explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) : zig_(&detail::ziggurat_tables()) {
        std::uint64_t sm = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1));
        for (auto& w : s_) w = splitmix64(sm);
    }

    inline std::uint64_t next_u64() {
        const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    inline double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

    // Standard normal (ziggurat; one 64-bit draw on the fast path).
    inline double normal() {
        const std::uint64_t bits = next_u64();
        const unsigned layer = static_cast<unsigned>(bits & 0xFF);
        const std::uint64_t j = bits >> 12;  // 52 bits
        if (j < zig_->k[layer]) {
            // Branch-free sign: bit 8 of the draw becomes the sign bit of the result.
            const double x = static_cast<double>(static_cast<std::int64_t>(j)) * zig_->w[layer];
            std::uint64_t xb;
            std::memcpy(&xb, &x, sizeof xb);
            xb ^= (bits & 0x100) << 55;
            double out;
            std::memcpy(&out, &xb, sizeof out);
            return out;
        }
        return normal_slow(layer, j, (bits & 0x100) != 0);
    }

    // out[i] = scale * N(0, 1), i < n.
    inline void fill_normal(double* out, std::size_t n, double scale = 1.0) {
        for (std::size_t i = 0; i < n; ++i) out[i] = scale * normal();
    }

private:
    static inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

    // Rejection part of the ziggurat (~1.2% of the draws): wedge test or tail, then a fresh draw.
    double normal_slow(unsigned layer, std::uint64_t j, bool negative) {
        const detail::ZigguratTables& z = *zig_;
        for (;;) {
            double x;
            if (layer == 0) {
                // Tail beyond r (Marsaglia 1964): x = r + e1 / r accepted when 2 e2 > (e1/r)^2.
                double a, b;
                do {
                    a = -std::log1p(-uniform()) / z.r;
                    b = -std::log1p(-uniform());
                } while (b + b < a * a);
                x = z.r + a;
                return negative ? -x : x;
            }
            x = static_cast<double>(static_cast<std::int64_t>(j)) * z.w[layer];
            const double y = z.f[layer] + uniform() * (z.f[layer + 1] - z.f[layer]);
            if (y < std::exp(-0.5 * x * x)) return negative ? -x : x;
            // Rejected: start again with a fresh draw.
            const std::uint64_t bits = next_u64();
            layer = static_cast<unsigned>(bits & 0xFF);
            j = bits >> 12;
            negative = (bits & 0x100) != 0;
            if (j < z.k[layer]) {
                x = static_cast<double>(static_cast<std::int64_t>(j)) * z.w[layer];
                return negative ? -x : x;
            }
        }
    }

    const detail::ZigguratTables* zig_;
    std::uint64_t s_[4];
};

}  // namespace statmech_nn
