/* md_vector_tool: line-oriented test harness for the C codec (used by tests/test_c_codec.py).
 *
 * Reads one command per line on stdin, writes exactly one answer line per command on stdout:
 *
 *   decode <hex wire bytes>
 *     -> ok flags=<n> seq=<n> ack=<n> msg=<name> <field>=<value> ...
 *     -> error <kind>        kind as in Python's FrameErrorKind: bad_cobs, truncated, ...
 *   encode <msg_name> <flags> <seq> <ack> <field>=<value> ...   (every field, any order)
 *     -> <hex wire bytes, including the trailing 00>
 *     -> error <reason>
 *   cobs <hex>  /  uncobs <hex>
 *     -> <hex> | error <kind>   raw COBS, to compare with the Python package beyond frame sizes
 *   utf8 <hex>
 *     -> valid | invalid        md_utf8_valid on the bytes, to compare with Python's strict codec
 *   selftest
 *     -> ok | fail <what>    capacity checks and CRC check value, not reachable via vectors
 *
 * Integers are decimal (i32 may be negative). strN fields are the hex of their bytes: decode
 * prints all N bytes (padding included); encode takes up to N bytes and pads with 0x00.
 * Hex is lower case on output, either case on input. This file is a host-side test tool, so
 * unlike the codec it uses stdio/stdlib.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_cobs.h"
#include "md_crc32.h"
#include "md_frame.h"
#include "md_messages.h"

#define LINE_MAX_LEN 8192
#define MAX_ARGS 64

/* ---- output helpers ---------------------------------------------------------------------- */

static void print_hex(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parse hex into out; returns the byte count, or -1 if malformed or longer than cap. */
static long parse_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);
    size_t i;
    if (n % 2 != 0 || n / 2 > cap) {
        return -1;
    }
    for (i = 0; i < n / 2; i++) {
        int hi = hex_nibble(s[2 * i]);
        int lo = hex_nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return (long)(n / 2);
}

/* ---- per-kind field printing (the X-macro below pastes the kind onto PRINT_) -------------- */

#define PRINT_u8(name, v, n) printf(" %s=%lu", name, (unsigned long)(v))
#define PRINT_u16(name, v, n) printf(" %s=%lu", name, (unsigned long)(v))
#define PRINT_u32(name, v, n) printf(" %s=%lu", name, (unsigned long)(v))
#define PRINT_u64(name, v, n) printf(" %s=%llu", name, (unsigned long long)(v))
#define PRINT_i32(name, v, n) printf(" %s=%ld", name, (long)(v))
#define PRINT_str(name, v, n) (printf(" %s=", name), print_hex((const uint8_t *)(v), n))

#define PRINT_FIELD(fname, kind, n) PRINT_##kind(#fname, m.fname, n);

/* ---- per-kind field parsing -------------------------------------------------------------- */

typedef struct {
    const char *key;   /* field name */
    const char *value; /* text after '=' */
    int used;
} kv_t;

static const char *find_value(kv_t *kv, int nkv, const char *name)
{
    int i;
    for (i = 0; i < nkv; i++) {
        if (strcmp(kv[i].key, name) == 0 && !kv[i].used) {
            kv[i].used = 1;
            return kv[i].value;
        }
    }
    return NULL;
}

/* Decimal unsigned <= max; strtoull alone would accept "-1" and leading spaces. */
static int parse_unsigned(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s < '0' || *s > '9') {
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_i32(const char *s, int32_t *out)
{
    char *end;
    long long v;
    if (s == NULL || *s == '\0') {
        return 0;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < -2147483647LL - 1 || v > 2147483647LL) {
        return 0;
    }
    *out = (int32_t)v;
    return 1;
}

static int parse_u8(const char *s, uint8_t *dst)
{
    unsigned long long v;
    if (!parse_unsigned(s, 0xFFULL, &v)) return 0;
    *dst = (uint8_t)v;
    return 1;
}

static int parse_u16(const char *s, uint16_t *dst)
{
    unsigned long long v;
    if (!parse_unsigned(s, 0xFFFFULL, &v)) return 0;
    *dst = (uint16_t)v;
    return 1;
}

static int parse_u32(const char *s, uint32_t *dst)
{
    unsigned long long v;
    if (!parse_unsigned(s, 0xFFFFFFFFULL, &v)) return 0;
    *dst = (uint32_t)v;
    return 1;
}

static int parse_u64(const char *s, uint64_t *dst)
{
    unsigned long long v;
    if (!parse_unsigned(s, 0xFFFFFFFFFFFFFFFFULL, &v)) return 0;
    *dst = (uint64_t)v;
    return 1;
}

static int parse_str(const char *s, char *dst, size_t n)
{
    uint8_t tmp[256];
    long len;
    if (s == NULL || n > sizeof tmp) {
        return 0;
    }
    len = parse_hex(s, tmp, n);
    if (len < 0) {
        return 0;
    }
    memset(dst, 0, n);
    memcpy(dst, tmp, (size_t)len);
    return 1;
}

#define PARSE_SCALAR(kind, fname, n) parse_##kind(find_value(kv, nkv, #fname), &m.fname)
#define PARSE_u8 PARSE_SCALAR
#define PARSE_u16 PARSE_SCALAR
#define PARSE_u32 PARSE_SCALAR
#define PARSE_u64 PARSE_SCALAR
#define PARSE_i32 PARSE_SCALAR
#define PARSE_str(kind, fname, n) parse_str(find_value(kv, nkv, #fname), m.fname, n)

#define PARSE_FIELD(fname, kind, n) \
    if (!PARSE_##kind(kind, fname, n)) { \
        printf("error bad_field %s", #fname); \
        return; \
    }

/* ---- commands ---------------------------------------------------------------------------- */

static void cmd_decode(const char *hex)
{
    uint8_t wire[LINE_MAX_LEN / 2];
    md_frame_t f;
    long n = parse_hex(hex, wire, sizeof wire);
    int err;

    if (n < 0) {
        printf("error bad_hex");
        return;
    }
    err = md_frame_decode(wire, (size_t)n, &f);
    if (err == MD_FRAME_OK) {
        err = md_frame_check(&f); /* unknown_id, bad_length, bad_string */
    }
    if (err != MD_OK) {
        printf("error %s", md_err_name(err));
        return;
    }
    switch (f.msg_id) {
#define DECODE_CASE(name, NAME, id) \
    case id: { \
        md_##name##_t m; \
        err = md_##name##_unpack(&m, f.payload, f.len); \
        if (err != MD_OK) { \
            printf("error %s", md_err_name(err)); \
            return; \
        } \
        printf("ok flags=%u seq=%u ack=%u msg=%s", (unsigned)f.flags, (unsigned)f.seq, \
               (unsigned)f.ack, #name); \
        MD_##NAME##_FIELDS(PRINT_FIELD) \
        return; \
    }
        MD_FOR_EACH_MESSAGE(DECODE_CASE)
#undef DECODE_CASE
    default:
        /* md_frame_check said the id is known: the X-macro and md_message_size disagree. */
        printf("error internal_unknown_id");
        return;
    }
}

static void emit_frame(unsigned flags, unsigned seq, unsigned ack, uint8_t id,
                       const uint8_t *payload, size_t len)
{
    uint8_t out[MD_MAX_ENCODED];
    int n = md_frame_encode((uint8_t)flags, (uint16_t)seq, (uint16_t)ack, id, payload, len, out,
                            sizeof out);
    if (n < 0) {
        printf("error %s", md_err_name(n));
        return;
    }
    print_hex(out, (size_t)n);
}

/* argv: msg_name flags seq ack field=value... */
static void cmd_encode(int argc, char **argv)
{
    kv_t kv[MAX_ARGS];
    int nkv = 0;
    int i;
    uint8_t flags;
    uint16_t seq;
    uint16_t ack;
    uint8_t payload[MD_MAX_PAYLOAD];

    if (argc < 4 || !parse_u8(argv[1], &flags) || !parse_u16(argv[2], &seq) ||
        !parse_u16(argv[3], &ack)) {
        printf("error usage: encode <msg_name> <flags> <seq> <ack> <field>=<value>...");
        return;
    }
    for (i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            printf("error bad_argument %s", argv[i]);
            return;
        }
        *eq = '\0';
        kv[nkv].key = argv[i];
        kv[nkv].value = eq + 1;
        kv[nkv].used = 0;
        nkv++;
    }
#define ENCODE_CASE(name, NAME, id) \
    if (strcmp(argv[0], #name) == 0) { \
        md_##name##_t m; \
        size_t len; \
        memset(&m, 0, sizeof m); \
        MD_##NAME##_FIELDS(PARSE_FIELD) \
        for (i = 0; i < nkv; i++) { \
            if (!kv[i].used) { \
                printf("error unknown_field %s", kv[i].key); \
                return; \
            } \
        } \
        len = md_##name##_pack(&m, payload); \
        emit_frame(flags, seq, ack, id, payload, len); \
        return; \
    }
    MD_FOR_EACH_MESSAGE(ENCODE_CASE)
#undef ENCODE_CASE
    printf("error unknown_message %s", argv[0]);
}

/* cobs / uncobs: inputs up to 1000 bytes, so blocks of 254+ bytes get exercised too. */
static void cmd_cobs(const char *hex, int decode)
{
    static uint8_t in[1100];
    static uint8_t out[1100];
    long n = parse_hex(hex, in, 1000);
    int r;
    if (n < 0) {
        printf("error bad_hex");
        return;
    }
    r = decode ? md_cobs_decode(in, (size_t)n, out, sizeof out)
               : md_cobs_encode(in, (size_t)n, out, sizeof out);
    if (r < 0) {
        printf("error %s", md_err_name(r));
        return;
    }
    print_hex(out, (size_t)r);
}

static void cmd_utf8(const char *hex)
{
    uint8_t in[LINE_MAX_LEN / 2];
    long n = parse_hex(hex, in, sizeof in);
    if (n < 0) {
        printf("error bad_hex");
        return;
    }
    printf(md_utf8_valid(in, (size_t)n) ? "valid" : "invalid");
}

/* Checks the golden vectors cannot reach: buffer capacities and the CRC check value. */
static const char *selftest(void)
{
    static const uint8_t check[] = "123456789";
    uint8_t in[300];
    uint8_t out[320];
    uint8_t back[320];
    size_t i;
    int n;

    if (md_crc32(check, 9) != 0xCBF43926UL) return "crc32 check value";
    if (md_crc32_update(md_crc32(check, 4), check + 4, 5) != 0xCBF43926UL) return "crc32 update";

    /* 254 non-zero bytes: one full block and, as in the Python encoder, no empty final block. */
    for (i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i % 255U + 1U);
    n = md_cobs_encode(in, 254, out, sizeof out);
    if (n != 255 || out[0] != 0xFF) return "cobs full block";
    if (md_cobs_encode(in, 254, out, 254) != MD_ERR_NO_SPACE) return "cobs full block cap";
    n = md_cobs_encode(in, 300, out, sizeof out);
    if (n != 302) return "cobs two blocks";
    if (md_cobs_decode(out, (size_t)n, back, sizeof back) != 300 || memcmp(in, back, 300) != 0)
        return "cobs round trip";
    if (md_cobs_decode(out, (size_t)n, back, 299) != MD_ERR_NO_SPACE) return "cobs decode cap";
    /* Every capacity below the exact size must fail cleanly, and none may write past it. */
    for (i = 0; i < 300; i++) in[i] = (uint8_t)(i % 3U); /* plenty of zeros */
    n = md_cobs_encode(in, 300, out, sizeof out);
    for (i = 0; i < (size_t)n; i++) {
        memset(back, 0xAA, sizeof back);
        if (md_cobs_encode(in, 300, back, i) != MD_ERR_NO_SPACE) return "cobs encode short cap";
        if (back[i] != 0xAA) return "cobs encode overrun";
    }
    if (md_cobs_encode(in, 0, out, 0) != MD_ERR_NO_SPACE) return "cobs empty zero cap";
    if (md_cobs_encode(in, 0, out, 1) != 1 || out[0] != 1) return "cobs empty";
    if (md_cobs_decode(out, 0, back, 0) != 0) return "cobs decode empty";

    /* In-place decoding, as an RX buffer would do it. */
    n = md_cobs_encode(in, 300, out, sizeof out);
    if (md_cobs_decode(out, (size_t)n, out, sizeof out) != 300 || memcmp(in, out, 300) != 0)
        return "cobs in place";

    /* Frame encoder: exact capacity works, one less fails, oversize payload is refused. */
    n = md_frame_encode(0, 0, 0, 0x7F, in, 10, out, sizeof out);
    if (n <= 0) return "frame encode";
    if (md_frame_encode(0, 0, 0, 0x7F, in, 10, back, (size_t)n) != n) return "frame exact cap";
    for (i = 0; i < (size_t)n; i++) {
        if (md_frame_encode(0, 0, 0, 0x7F, in, 10, back, i) != MD_ERR_NO_SPACE)
            return "frame short cap";
    }
    if (md_frame_encode(0, 0, 0, 0x7F, in, MD_MAX_PAYLOAD + 1U, out, sizeof out) != MD_ERR_OVERSIZE)
        return "frame oversize payload";
    n = md_frame_encode(0, 0, 0, 0x7F, in, MD_MAX_PAYLOAD, out, sizeof out);
    if (n <= 0 || (size_t)n > MD_MAX_ENCODED) return "frame max size";
    return NULL;
}

/* Split a line on spaces in place; returns the word count. */
static int split(char *line, char **argv, int max)
{
    int argc = 0;
    char *p = line;
    while (*p != '\0' && argc < max) {
        while (*p == ' ' || *p == '\t') *p++ = '\0';
        if (*p == '\0') break;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t') p++;
    }
    return argc;
}

int main(void)
{
    static char line[LINE_MAX_LEN];
    char *argv[MAX_ARGS];

    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strlen(line);
        int argc;
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        } else if (!feof(stdin)) {
            int c;
            while ((c = getchar()) != EOF && c != '\n') {
            }
            printf("error line_too_long\n");
            continue;
        }
        if (len > 0 && line[len - 1] == '\r') {
            line[--len] = '\0';
        }
        argc = split(line, argv, MAX_ARGS);
        if (argc == 0) {
            printf("error empty_command");
        } else if (strcmp(argv[0], "decode") == 0) {
            cmd_decode(argc > 1 ? argv[1] : "");
        } else if (strcmp(argv[0], "encode") == 0) {
            cmd_encode(argc - 1, argv + 1);
        } else if (strcmp(argv[0], "cobs") == 0 || strcmp(argv[0], "uncobs") == 0) {
            cmd_cobs(argc > 1 ? argv[1] : "", argv[0][0] == 'u');
        } else if (strcmp(argv[0], "utf8") == 0) {
            cmd_utf8(argc > 1 ? argv[1] : "");
        } else if (strcmp(argv[0], "selftest") == 0) {
            const char *what = selftest();
            if (what == NULL) {
                printf("ok");
            } else {
                printf("fail %s", what);
            }
        } else {
            printf("error unknown_command %s", argv[0]);
        }
        printf("\n");
    }
    return 0;
}
