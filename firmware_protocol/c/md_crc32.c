#include "md_crc32.h"

/* Half-byte table (64 bytes of flash): small enough for any MCU, 2 lookups per byte. A bitwise
 * loop would save the table but costs 8 iterations per byte; frames are at most 251 bytes. */
static const uint32_t md_crc_nibble[16] = {
    0x00000000UL, 0x1DB71064UL, 0x3B6E20C8UL, 0x26D930ACUL,
    0x76DC4190UL, 0x6B6B51F4UL, 0x4DB26158UL, 0x5005713CUL,
    0xEDB88320UL, 0xF00F9344UL, 0xD6D6A3E8UL, 0xCB61B38CUL,
    0x9B64C2B0UL, 0x86D3D2D4UL, 0xA00AE278UL, 0xBDBDF21CUL,
};

uint32_t md_crc32_update(uint32_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    crc ^= 0xFFFFFFFFUL;
    for (i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ md_crc_nibble[crc & 0x0FU];
        crc = (crc >> 4) ^ md_crc_nibble[crc & 0x0FU];
    }
    return crc ^ 0xFFFFFFFFUL;
}

uint32_t md_crc32(const uint8_t *data, size_t len)
{
    return md_crc32_update(0, data, len);
}
