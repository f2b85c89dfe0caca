#include "md_frame.h"

#include <string.h>

#include "md_cobs.h"
#include "md_crc32.h"

int md_frame_encode(uint8_t flags, uint16_t seq, uint16_t ack, uint8_t msg_id,
                    const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    uint8_t raw[MD_MAX_FRAME];
    size_t n = MD_HEADER_SIZE + len;
    int enc;

    if (len > MD_MAX_PAYLOAD) {
        return MD_ERR_OVERSIZE;
    }
    raw[0] = MD_PROTOCOL_VERSION;
    raw[1] = flags;
    md_put_u16(raw + 2, seq);
    md_put_u16(raw + 4, ack);
    raw[6] = msg_id;
    if (len > 0) {
        memcpy(raw + MD_HEADER_SIZE, payload, len);
    }
    md_put_u32(raw + n, md_crc32(raw, n));
    n += MD_CRC_SIZE;
    if (cap < 1) {
        return MD_ERR_NO_SPACE;
    }
    /* Leave room for the delimiter. */
    enc = md_cobs_encode(raw, n, out, cap - 1U);
    if (enc < 0) {
        return enc;
    }
    out[enc] = 0x00;
    return enc + 1;
}

int md_frame_decode(const uint8_t *wire, size_t len, md_frame_t *out)
{
    uint8_t raw[MD_MAX_FRAME];
    int n;
    size_t body;

    if (len > 0 && wire[len - 1] == 0x00) {
        len--;
    }
    /* A run longer than any valid frame's COBS form is rejected before decoding. */
    if (len > MD_MAX_ENCODED - 1U) {
        return MD_ERR_OVERSIZE;
    }
    n = md_cobs_decode(wire, len, raw, sizeof raw);
    if (n == MD_ERR_NO_SPACE) {
        return MD_ERR_OVERSIZE; /* cannot happen after the length check; kept for safety */
    }
    if (n < 0) {
        return n;
    }
    if ((size_t)n < MD_MIN_FRAME) {
        return MD_ERR_TRUNCATED;
    }
    if ((size_t)n > MD_MAX_FRAME) {
        return MD_ERR_OVERSIZE;
    }
    body = (size_t)n - MD_CRC_SIZE;
    /* CRC before version, as the host does: a corrupted version byte counts as bad_crc. */
    if (md_crc32(raw, body) != md_get_u32(raw + body)) {
        return MD_ERR_BAD_CRC;
    }
    if (raw[0] != MD_PROTOCOL_VERSION) {
        return MD_ERR_BAD_VERSION;
    }
    out->flags = raw[1];
    out->seq = md_get_u16(raw + 2);
    out->ack = md_get_u16(raw + 4);
    out->msg_id = raw[6];
    out->len = body - MD_HEADER_SIZE;
    if (out->len > 0) {
        memcpy(out->payload, raw + MD_HEADER_SIZE, out->len);
    }
    return MD_FRAME_OK;
}

int md_frame_check(const md_frame_t *frame)
{
    return md_message_check(frame->msg_id, frame->payload, frame->len);
}

const char *md_err_name(int err)
{
    switch (err) {
    case MD_OK: return "ok";
    case MD_ERR_BAD_COBS: return "bad_cobs";
    case MD_ERR_TRUNCATED: return "truncated";
    case MD_ERR_OVERSIZE: return "oversize";
    case MD_ERR_BAD_CRC: return "bad_crc";
    case MD_ERR_BAD_VERSION: return "bad_version";
    case MD_ERR_UNKNOWN_ID: return "unknown_id";
    case MD_ERR_BAD_LENGTH: return "bad_length";
    case MD_ERR_BAD_STRING: return "bad_string";
    case MD_ERR_NO_SPACE: return "no_space";
    default: return "unknown_error";
    }
}
