/* COBS (Consistent Overhead Byte Stuffing, Cheshire & Baker 1999), byte-exact with the Python
 * `cobs` package the host uses. Neither function writes or expects the 0x00 frame delimiter.
 * No heap; every write is checked against the caller's capacity. */
#ifndef MD_COBS_H
#define MD_COBS_H

#include <stddef.h>
#include <stdint.h>

#include "md_errors.h"

/* Worst-case encoded size of n bytes: one code byte per started run of 254 bytes. */
#define MD_COBS_MAX_ENCODED(n) ((n) + (n) / 254U + 1U)

/* Lengths are returned as int; capacities beyond this are clamped so they always fit (a frame is
 * at most 253 bytes, so this never bites, even where int is 16 bits). */
#define MD_COBS_MAX_LEN 0x7FFF

/* Encode len bytes into out. Returns the encoded length, or MD_ERR_NO_SPACE if cap is too small
 * (out then holds garbage). in and out must not overlap. */
int md_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Decode len encoded bytes (without the delimiter) into out. Returns the decoded length (never
 * more than len), MD_ERR_BAD_COBS for invalid input (a 0x00 byte, or a code running past the
 * end), or MD_ERR_NO_SPACE. out may equal in (in-place decoding), but must not otherwise overlap.
 * An empty input decodes to an empty output. */
int md_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

#endif /* MD_COBS_H */
