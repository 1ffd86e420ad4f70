// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Shared between the wire layer's files only: little-endian field access
 * and the body check with an explicit size limit (the peer's on send, ours
 * on receive).
 */
#ifndef REMUS_WIRE_PRIV_H
#define REMUS_WIRE_PRIV_H

#include <stdint.h>
#include <string.h>

#include "wire.h"

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline int zeroes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Fixed body lengths; -1 where the length varies. */
#define HELLO_FIXED_LEN		48
#define HELLO_ACK_LEN		48
#define REJECT_HDR_LEN		8
#define END_LEN			64
#define ACK_LEN			0

/* Header field offsets. */
#define H_MAGIC		0
#define H_VERSION	4
#define H_TYPE		5
#define H_FLAGS		6
#define H_LEN		8
#define H_RSVD		12
#define H_SID		16
#define H_SEQ		32
#define H_EPOCH		40

int remus_wire_check_body(const struct remus_wire *w, uint8_t type,
			  const uint8_t *body, size_t len, size_t limit);
/* Is @pfn inside one of the guest's regions? */
bool remus_wire_pfn_valid(const struct remus_hello *h, uint64_t pfn);
/* Pages and disk writes a checked batch body holds (0 for other types). */
uint32_t remus_wire_batch_count(const uint8_t *body);

#endif /* REMUS_WIRE_PRIV_H */
