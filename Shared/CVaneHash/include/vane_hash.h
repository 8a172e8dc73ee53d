#ifndef VANE_HASH_H
#define VANE_HASH_H

#include <stddef.h>
#include <stdint.h>

/// SHA-1 of the concatenation of `a` (`a_len` bytes) and `b` (`b_len` bytes), written to `digest`
/// as five host-order words. Uses the x86 SHA extensions when the CPU has them.
void vane_sha1_concat(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint32_t digest[5]);

/// The same with the portable implementation only (for tests comparing the two).
void vane_sha1_concat_portable(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint32_t digest[5]);

/// 1 when the SHA extensions are used, 0 when the portable implementation is.
int vane_sha1_uses_sha_extensions(void);

/// The SHA-256 compression function: absorbs `blocks` 64-byte blocks into `state` (eight words).
/// Exposed so that an HMAC's inner and outer key states can be precomputed and distributed
/// instead of the key itself (see `HMACKeyState` in ModelsCore).
void vane_sha256_compress(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
