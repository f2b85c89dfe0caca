/* CRC-32/ISO-HDLC, the one zlib.crc32 computes (PROTOCOL.md §4): reflected polynomial
 * 0xEDB88320, init and final XOR 0xFFFFFFFF. Check value of "123456789" is 0xCBF43926. */
#ifndef MD_CRC32_H
#define MD_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC of len bytes. */
uint32_t md_crc32(const uint8_t *data, size_t len);

/* Continue a CRC over more data, like zlib.crc32(data, crc): md_crc32_update(0, ...) starts one,
 * so a frame can be checked in pieces (e.g. as bytes arrive) without a second buffer. */
uint32_t md_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

#endif /* MD_CRC32_H */
