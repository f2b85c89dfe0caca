/* mesodrive C codec: error codes shared by md_messages.h (generated) and md_frame.{h,c}.
 *
 * Negative, so a function can return "a length or an error" in one int. All but MD_ERR_NO_SPACE
 * mirror FrameErrorKind in src/mesodrive/protocol/frame.py one to one (md_err_name gives the same
 * names: "bad_cobs", "truncated", ..., "bad_string"); the golden vectors check both codecs agree.
 * Values never change (MD_ERR_BAD_STRING came later, hence after MD_ERR_NO_SPACE).
 */
#ifndef MD_ERRORS_H
#define MD_ERRORS_H

typedef enum {
    MD_OK = 0,
    MD_ERR_BAD_COBS = -1,    /* invalid COBS (zero byte inside, or a code running past the end) */
    MD_ERR_TRUNCATED = -2,   /* raw frame shorter than header + CRC (11 bytes) */
    MD_ERR_OVERSIZE = -3,    /* encoded run or raw frame longer than any valid frame */
    MD_ERR_BAD_CRC = -4,     /* CRC-32 mismatch */
    MD_ERR_BAD_VERSION = -5, /* version byte is not MD_PROTOCOL_VERSION */
    MD_ERR_UNKNOWN_ID = -6,  /* frame is fine, but the message id is not in the catalogue */
    MD_ERR_BAD_LENGTH = -7,  /* frame is fine, but the payload size is wrong for its message */
    MD_ERR_NO_SPACE = -8,    /* encoders only: the output buffer is too small */
    MD_ERR_BAD_STRING = -9   /* frame is fine, but a strN field is not valid UTF-8 or has a
                                non-zero byte after its 0x00 padding (PROTOCOL.md §1) */
} md_err_t;

/* md_frame_decode's success value, named as in the frame API. */
#define MD_FRAME_OK MD_OK

#endif /* MD_ERRORS_H */
