#include "md_cobs.h"

int md_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t code_at = 0; /* where the current block's code byte goes */
    size_t o = 1;       /* next data byte goes here */
    size_t i;
    uint8_t code = 1;   /* 1 + data bytes in the current block */
    int after_full = 0; /* the last block closed was a full 0xFF block */

    if (cap > MD_COBS_MAX_LEN) {
        cap = MD_COBS_MAX_LEN;
    }
    if (cap < 1) {
        return MD_ERR_NO_SPACE;
    }
    for (i = 0; i < len; i++) {
        after_full = 0;
        if (in[i] == 0) {
            /* A zero ends the block; it is implied by the code byte. */
            out[code_at] = code;
            code_at = o++;
            code = 1;
            if (code_at >= cap) {
                return MD_ERR_NO_SPACE;
            }
            continue;
        }
        if (o >= cap) {
            return MD_ERR_NO_SPACE;
        }
        out[o++] = in[i];
        code++;
        if (code == 0xFF) {
            /* 254 data bytes: close the block without an implied zero. */
            out[code_at] = code;
            code_at = o++;
            code = 1;
            after_full = 1;
            if (code_at >= cap && i + 1 < len) {
                return MD_ERR_NO_SPACE;
            }
        }
    }
    if (after_full) {
        /* Input ended exactly on a full block: like the Python encoder, emit no empty final
         * block (the decoder adds no zero after a 0xFF block either way). */
        return (int)code_at;
    }
    out[code_at] = code;
    return (int)o;
}

int md_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t i = 0;
    size_t o = 0;

    if (cap > MD_COBS_MAX_LEN) {
        cap = MD_COBS_MAX_LEN;
    }
    while (i < len) {
        uint8_t code = in[i++];
        size_t end;
        if (code == 0) {
            return MD_ERR_BAD_COBS;
        }
        end = i + (size_t)code - 1U;
        if (end > len) {
            return MD_ERR_BAD_COBS; /* the block runs past the end of the input */
        }
        for (; i < end; i++) {
            if (in[i] == 0) {
                return MD_ERR_BAD_COBS;
            }
            if (o >= cap) {
                return MD_ERR_NO_SPACE;
            }
            out[o++] = in[i];
        }
        /* Every block but the last ends in an implied zero, except a full (0xFF) block. */
        if (i < len && code != 0xFF) {
            if (o >= cap) {
                return MD_ERR_NO_SPACE;
            }
            out[o++] = 0;
        }
    }
    return (int)o;
}
