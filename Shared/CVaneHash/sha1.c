// SHA-1 for percentage bucketing. LaunchDarkly's bucketing hashes every rollout evaluation with
// SHA-1, and in Swift that one hash cost more than the rest of an evaluation; the x86 SHA
// extensions do a block in a few dozen cycles. The portable path serves other CPUs.

#include "vane_hash.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define VANE_X86 1
#endif

static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void compress_portable(uint32_t state[5], const uint8_t *data, size_t blocks) {
    uint32_t w[80];
    while (blocks--) {
        for (int t = 0; t < 16; t++) {
            w[t] = (uint32_t)data[4 * t] << 24 | (uint32_t)data[4 * t + 1] << 16 | (uint32_t)data[4 * t + 2] << 8 |
                   (uint32_t)data[4 * t + 3];
        }
        for (int t = 16; t < 80; t++) w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
        for (int t = 0; t < 80; t++) {
            uint32_t f, k;
            if (t < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (t < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t temp = rol32(a, 5) + f + e + k + w[t];
            e = d; d = c; c = rol32(b, 30); b = a; a = temp;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d; state[4] += e;
        data += 64;
    }
}

#ifdef VANE_X86
// One group of four rounds once the message schedule is running (Intel's SHA extensions paper).
#define GROUP(ECUR, ENEXT, MCUR, MMSG2, MXOR, MMSG1, FUNC) \
    ECUR = _mm_sha1nexte_epu32(ECUR, MCUR);              \
    ENEXT = abcd;                                        \
    MMSG2 = _mm_sha1msg2_epu32(MMSG2, MCUR);             \
    abcd = _mm_sha1rnds4_epu32(abcd, ECUR, FUNC);        \
    MMSG1 = _mm_sha1msg1_epu32(MMSG1, MCUR);             \
    MXOR = _mm_xor_si128(MXOR, MCUR);

__attribute__((target("sha,sse4.1,ssse3")))
static void compress_sha_extensions(uint32_t state[5], const uint8_t *data, size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1B);
    __m128i e0 = _mm_set_epi32((int)state[4], 0, 0, 0);
    __m128i e1, m0, m1, m2, m3;
    while (blocks--) {
        const __m128i abcd_save = abcd, e0_save = e0;

        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), byte_swap);
        e0 = _mm_add_epi32(e0, m0);
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);

        m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), byte_swap);
        e1 = _mm_sha1nexte_epu32(e1, m1);
        e0 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
        m0 = _mm_sha1msg1_epu32(m0, m1);

        m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), byte_swap);
        e0 = _mm_sha1nexte_epu32(e0, m2);
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
        m1 = _mm_sha1msg1_epu32(m1, m2);
        m0 = _mm_xor_si128(m0, m2);

        m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), byte_swap);
        GROUP(e1, e0, m3, m0, m1, m2, 0)   // rounds 12-15
        GROUP(e0, e1, m0, m1, m2, m3, 0)   // 16-19
        GROUP(e1, e0, m1, m2, m3, m0, 1)   // 20-23
        GROUP(e0, e1, m2, m3, m0, m1, 1)   // 24-27
        GROUP(e1, e0, m3, m0, m1, m2, 1)   // 28-31
        GROUP(e0, e1, m0, m1, m2, m3, 1)   // 32-35
        GROUP(e1, e0, m1, m2, m3, m0, 1)   // 36-39
        GROUP(e0, e1, m2, m3, m0, m1, 2)   // 40-43
        GROUP(e1, e0, m3, m0, m1, m2, 2)   // 44-47
        GROUP(e0, e1, m0, m1, m2, m3, 2)   // 48-51
        GROUP(e1, e0, m1, m2, m3, m0, 2)   // 52-55
        GROUP(e0, e1, m2, m3, m0, m1, 2)   // 56-59
        GROUP(e1, e0, m3, m0, m1, m2, 3)   // 60-63
        GROUP(e0, e1, m0, m1, m2, m3, 3)   // 64-67

        e1 = _mm_sha1nexte_epu32(e1, m1);  // 68-71
        e0 = abcd;
        m2 = _mm_sha1msg2_epu32(m2, m1);
        abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);
        m3 = _mm_xor_si128(m3, m1);

        e0 = _mm_sha1nexte_epu32(e0, m2);  // 72-75
        e1 = abcd;
        m3 = _mm_sha1msg2_epu32(m3, m2);
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 3);

        e1 = _mm_sha1nexte_epu32(e1, m3);  // 76-79
        e0 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);

        e0 = _mm_sha1nexte_epu32(e0, e0_save);
        abcd = _mm_add_epi32(abcd, abcd_save);
        data += 64;
    }
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1B));
    state[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static int detect_sha_extensions(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 9)) || !(ecx & (1u << 19))) return 0;  // SSSE3, SSE4.1
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & (1u << 29)) != 0;                             // SHA
}
#endif

// -1 until detected. Racing first calls all store the same answer, so a plain int is enough.
static int sha_extensions = -1;

int vane_sha1_uses_sha_extensions(void) {
#ifdef VANE_X86
    if (sha_extensions < 0) sha_extensions = detect_sha_extensions();
    return sha_extensions;
#else
    return 0;
#endif
}

static void sha1_concat(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint32_t digest[5], int portable) {
    uint8_t stack_buffer[256];
    const size_t length = a_len + b_len;
    const size_t padded = (length + 9 + 63) / 64 * 64;
    uint8_t *message = padded <= sizeof stack_buffer ? stack_buffer : malloc(padded);
    if (message == NULL) abort();
    if (a_len) memcpy(message, a, a_len);
    if (b_len) memcpy(message + a_len, b, b_len);
    message[length] = 0x80;
    memset(message + length + 1, 0, padded - 8 - length - 1);
    const uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) message[padded - 1 - i] = (uint8_t)(bits >> (8 * i));

    digest[0] = 0x67452301;
    digest[1] = 0xEFCDAB89;
    digest[2] = 0x98BADCFE;
    digest[3] = 0x10325476;
    digest[4] = 0xC3D2E1F0;
#ifdef VANE_X86
    if (!portable && vane_sha1_uses_sha_extensions()) {
        compress_sha_extensions(digest, message, padded / 64);
    } else {
        compress_portable(digest, message, padded / 64);
    }
#else
    (void)portable;
    compress_portable(digest, message, padded / 64);
#endif
    if (message != stack_buffer) free(message);
}

void vane_sha1_concat(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint32_t digest[5]) {
    sha1_concat(a, a_len, b, b_len, digest, 0);
}

void vane_sha1_concat_portable(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint32_t digest[5]) {
    sha1_concat(a, a_len, b, b_len, digest, 1);
}
