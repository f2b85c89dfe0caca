/* mesodrive frames (PROTOCOL.md §3-4): header + payload + CRC-32, COBS-encoded, 0x00-delimited.
 *
 *   raw frame = version u8 | flags u8 | seq u16 LE | ack u16 LE | msg_id u8 | payload | crc u32 LE
 *   wire      = COBS(raw frame) 0x00
 *
 * Mirrors src/mesodrive/protocol/frame.py: same checks, in the same order, same error kinds.
 */
#ifndef MD_FRAME_H
#define MD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "md_errors.h"
#include "md_messages.h"

#define MD_FLAG_SEQ 0x01U /* sequenced frame; bits 1-7 reserved (send 0, ignore) */
#define MD_HEADER_SIZE 7U
#define MD_CRC_SIZE 4U
#define MD_MIN_FRAME (MD_HEADER_SIZE + MD_CRC_SIZE)                  /* 11 */
#define MD_MAX_FRAME (MD_HEADER_SIZE + MD_MAX_PAYLOAD + MD_CRC_SIZE) /* 251 */
/* Longest valid wire form, including the 0x00 delimiter: size an RX/TX buffer with this. */
#define MD_MAX_ENCODED (MD_MAX_FRAME + (MD_MAX_FRAME + 253U) / 254U + 1U) /* 253 */

/* The flags a message's channel calls for: MD_FLAGS_FOR_CHANNEL(MD_ARM_CHANNEL). */
#define MD_FLAGS_FOR_CHANNEL(ch) ((ch) == MD_CHANNEL_SEQ ? MD_FLAG_SEQ : 0U)

/* A decoded frame whose payload has not been interpreted yet. */
typedef struct {
    uint8_t flags;
    uint16_t seq;
    uint16_t ack;
    uint8_t msg_id;
    size_t len; /* payload bytes, 0..MD_MAX_PAYLOAD */
    uint8_t payload[MD_MAX_PAYLOAD];
} md_frame_t;

/* Build the wire bytes of one frame into out (cap bytes; MD_MAX_ENCODED always suffices).
 * Returns the wire length including the trailing 0x00, MD_ERR_OVERSIZE if len > MD_MAX_PAYLOAD,
 * or MD_ERR_NO_SPACE. Unsequenced frames should carry seq 0 (PROTOCOL.md §4). */
int md_frame_encode(uint8_t flags, uint16_t seq, uint16_t ack, uint8_t msg_id,
                    const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/* Decode one frame's wire bytes, with or without the trailing 0x00 (one is stripped).
 * Returns MD_FRAME_OK or MD_ERR_OVERSIZE / _BAD_COBS / _TRUNCATED / _BAD_CRC / _BAD_VERSION,
 * checked in that order. Does not look at msg_id: see md_frame_check. Uses MD_MAX_FRAME bytes of
 * stack. */
int md_frame_decode(const uint8_t *wire, size_t len, md_frame_t *out);

/* Is a decoded frame's payload a valid message? MD_OK, or the undecodable verdict, checked in this
 * order: MD_ERR_UNKNOWN_ID, MD_ERR_BAD_LENGTH, MD_ERR_BAD_STRING (a strN field that is not valid
 * UTF-8 or has a non-zero byte after its padding). The device answers all three (PROTOCOL.md
 * §5.1, §5.4, §6). After MD_OK the message's md_<name>_unpack cannot fail. */
int md_frame_check(const md_frame_t *frame);

/* "bad_cobs", "truncated", ... (the Python FrameErrorKind values), "ok", or "no_space". */
const char *md_err_name(int err);

#endif /* MD_FRAME_H */
