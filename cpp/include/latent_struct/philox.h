// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), compiled for host
// and device so that the same (seed, element index) gives bit-identical uniforms on the CPU and on CUDA.
#pragma once
#include <cmath>
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/reproducible.h"

namespace ls {

struct Philox4 {
  uint32_t v[4];
};

LS_HOST_DEVICE inline uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

/// Ten rounds of Philox4x32 on `counter` with the 64-bit `key`.
LS_HOST_DEVICE inline Philox4 philox4x32_10(Philox4 counter, uint64_t key) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(0xD2511F53u, counter.v[0], &hi0);
    const uint32_t lo1 = mulhilo32(0xCD9E8D57u, counter.v[2], &hi1);
    counter = Philox4{{hi1 ^ counter.v[1] ^ k0, lo1, hi0 ^ counter.v[3] ^ k1, lo0}};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return counter;
}

/// The uniform in (0, 1), exclusive at both ends, of element `index` of the stream `stream` under `seed`:
/// 53 random bits, so every uniform is exactly representable in float64. Two uniforms come from one
/// Philox block (counter = index / 2).
LS_HOST_DEVICE inline double philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t block = index >> 1;
  const Philox4 out = philox4x32_10(
      Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), static_cast<uint32_t>(stream),
               static_cast<uint32_t>(stream >> 32)}},
      seed);
  const int lane = static_cast<int>(index & 1) * 2;
  const uint64_t bits = ((static_cast<uint64_t>(out.v[lane]) << 32) | out.v[lane + 1]) >> 11;
  return (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
}

/// A standard Gumbel variate −log(−log u), computed in float64 (finite: u is never 0 or 1), bit-identical on
/// both backends: the log is repro_log (reproducible.h), not the C library's or libdevice's.
LS_HOST_DEVICE inline double philox_gumbel(uint64_t seed, uint64_t stream, uint64_t index) {
  return repro_gumbel_of_uniform(philox_uniform(seed, stream, index));
}

}  // namespace ls
