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
    inline double normal() { return normal_from_bits(next_u64()); }

    // The normal whose first 64-bit draw was `bits` (already taken from this stream): the fast path
    // uses only `bits`; a rejection draws further from this stream. NormalLanes uses it for a lane.
    inline double normal_from_bits(std::uint64_t bits) {
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

    // The generator's four state words (NormalLanes keeps its lanes' words side by side).
    void get_state(std::uint64_t (&s)[4]) const { std::memcpy(s, s_, sizeof s_); }
    void set_state(const std::uint64_t (&s)[4]) { std::memcpy(s_, s, sizeof s_); }

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

// Eight interleaved xoshiro256++ streams for long vectors of normals: out[8 b + L] is the b-th
// normal of lane L, drawn exactly as Rng::normal() draws on that lane. The lanes are seeded from
// one draw of a parent stream (splitmix64, four words per lane, lane 0 first), so (seed, stream)
// of the parent still fixes every value. Independent lanes let one instruction advance all eight
// generators and take eight ziggurat layers at once: the AVX2 and AVX-512 builds
// (random_lanes_avx2.cpp, random_lanes_avx512.cpp, chosen at run time with the level of
// closed_form_rows_isa.hpp) give bitwise the values of the scalar code. Measured 1.3 ns per normal
// against Rng::fill_normal's 1.6 on an AVX-512 processor (the gathers from the layer tables bound it).
class NormalLanes {
public:
    static constexpr int kLanes = 8;

    explicit NormalLanes(Rng& parent) {
        std::uint64_t sm = parent.next_u64();
        for (int L = 0; L < kLanes; ++L)
            for (int w = 0; w < 4; ++w) s_[w][L] = splitmix64(sm);
    }

    // out[i] = scale * (normal i of the interleaved lanes), i < n; continues where the last fill ended
    // only for fills of multiples of 8.
    void fill(double* out, std::size_t n, double scale = 1.0);

    // The lanes' state, word w of lane L at s_[w][L] (for the instruction-set builds).
    std::uint64_t (&words())[4][kLanes] { return s_; }

private:
    alignas(64) std::uint64_t s_[4][kLanes];
};

namespace detail {
// Lane L's draw after `bits` (its first 64-bit draw, already taken from the lane): the ziggurat's
// fast path, or its rejection loop drawing further from the lane.
inline double lane_normal(std::uint64_t (&s)[4][NormalLanes::kLanes], int L, std::uint64_t bits) {
    Rng r;
    const std::uint64_t w[4] = {s[0][L], s[1][L], s[2][L], s[3][L]};
    r.set_state(w);
    const double x = r.normal_from_bits(bits);
    std::uint64_t out[4];
    r.get_state(out);
    for (int k = 0; k < 4; ++k) s[k][L] = out[k];
    return x;
}
// Lane L's next 64-bit draw (xoshiro256++, as Rng::next_u64).
inline std::uint64_t lane_next(std::uint64_t (&s)[4][NormalLanes::kLanes], int L) {
    const auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
    const std::uint64_t result = rotl(s[0][L] + s[3][L], 23) + s[0][L];
    const std::uint64_t t = s[1][L] << 17;
    s[2][L] ^= s[0][L];
    s[3][L] ^= s[1][L];
    s[1][L] ^= s[2][L];
    s[0][L] ^= s[3][L];
    s[2][L] ^= t;
    s[3][L] = rotl(s[3][L], 45);
    return result;
}
// The builds of NormalLanes::fill for n a multiple of 8 (random_lanes*.cpp).
void fill_lanes_scalar(NormalLanes& g, double* out, std::size_t n, double scale);
void fill_lanes_avx2(NormalLanes& g, double* out, std::size_t n, double scale);
void fill_lanes_avx512(NormalLanes& g, double* out, std::size_t n, double scale);
}  // namespace detail

}  // namespace statmech_nn
