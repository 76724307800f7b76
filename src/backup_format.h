/*
 * backup_format.h - the encrypted backup file and its manifest (SPEC 10).
 *
 * A backup file is a header followed by chunks; bulwarkd(8), BACKUP FILE
 * FORMAT, describes it byte by byte:
 *
 *   header  "BWBACKUP" | u16 version (1) | key id [8] | u64 time |
 *           salt [32] | u32 chunk size | u16 n | database [n]
 *   chunk i AES-256-GCM(file key, nonce = 0^4 | u64 i,
 *           aad = header | u64 i | u8 final) = ciphertext | tag [16]
 *
 * Integers are big-endian.  Every chunk but the last holds exactly
 * chunk-size bytes of plaintext; the last (final flag 1) holds 0 to
 * chunk-size bytes.  file key = HKDF-SHA256(backup key, salt,
 * "bulwark backup v1 file key"); key id = HKDF-SHA256(backup key, no salt,
 * "bulwark backup v1 key id", 8 bytes).
 *
 * The sealer and the opener stream: plaintext and ciphertext pass through
 * a caller's sink one chunk at a time, and the opener hands a chunk's
 * plaintext to its sink only once that chunk authenticated.
 */
#ifndef BW_BACKUP_FORMAT_H
#define BW_BACKUP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define BACKUP_MAGIC_LEN	8
#define BACKUP_VERSION		1
#define BACKUP_KEY_LEN		32
#define BACKUP_KEYID_LEN	8
#define BACKUP_SALT_LEN		32
#define BACKUP_TAG_LEN		16
#define BACKUP_CHUNK		65536	/* plaintext bytes of a full chunk */
#define BACKUP_CHUNK_MIN	1024	/* a header asking for less: refused */
#define BACKUP_CHUNK_MAX	1048576
#define BACKUP_HDR_FIXED	64	/* header bytes before the name */
#define BACKUP_DBNAME_MAX	255
#define BACKUP_HDR_MAX		(BACKUP_HDR_FIXED + BACKUP_DBNAME_MAX)
#define BACKUP_MANIFEST_MAX	4096	/* a longer manifest is refused */
#define BACKUP_ERR_MAX		256

struct backup_err {
	char	 msg[BACKUP_ERR_MAX];
};

struct backup_header {
	uint16_t	 version;
	uint8_t		 key_id[BACKUP_KEYID_LEN];
	uint64_t	 time;			/* seconds since the epoch */
	uint8_t		 salt[BACKUP_SALT_LEN];
	uint32_t	 chunk_size;
	char		 database[BACKUP_DBNAME_MAX + 1];
	size_t		 dblen;
	uint8_t		 raw[BACKUP_HDR_MAX];	/* the encoded header */
	size_t		 rawlen;
};

/* Receives bytes; returns 0, or -1 to stop (the caller knows why). */
typedef int (*backup_sink)(void *arg, const void *buf, size_t len);

/* The key id of a backup key (8 bytes, not secret). */
int	 backup_key_id(const uint8_t key[BACKUP_KEY_LEN],
	    uint8_t id[BACKUP_KEYID_LEN]);

/*
 * A header for a new backup of database (1 to BACKUP_DBNAME_MAX bytes) at
 * time: fresh random salt, the key's id, BACKUP_CHUNK.
 */
int	 backup_header_init(struct backup_header *,
	    const uint8_t key[BACKUP_KEY_LEN], const char *database,
	    uint64_t time, struct backup_err *);
/*
 * Parses an encoded header of len bytes (at least BACKUP_HDR_FIXED):
 * returns the full header length when it is complete, 0 when more bytes
 * are needed, -1 (with the reason) when it is not a valid header.
 */
int	 backup_header_parse(struct backup_header *, const uint8_t *,
	    size_t len, struct backup_err *);

struct backup_sealer;

/* Writes the header to sink at once; NULL when encryption cannot start. */
struct backup_sealer *backup_sealer_new(const uint8_t key[BACKUP_KEY_LEN],
	    const struct backup_header *, backup_sink, void *arg,
	    struct backup_err *);
int	 backup_sealer_update(struct backup_sealer *, const void *, size_t,
	    struct backup_err *);
/* Seals the final chunk; the sealer takes no more input. */
int	 backup_sealer_finish(struct backup_sealer *, struct backup_err *);
void	 backup_sealer_free(struct backup_sealer *);

struct backup_opener;

/* plain receives each chunk's plaintext once it authenticated. */
struct backup_opener *backup_opener_new(const uint8_t key[BACKUP_KEY_LEN],
	    backup_sink plain, void *arg);
int	 backup_opener_update(struct backup_opener *, const void *, size_t,
	    struct backup_err *);
/* The end of the file: the final chunk must be there and authenticate. */
int	 backup_opener_finish(struct backup_opener *, struct backup_err *);
/* The parsed header, NULL before it was read. */
const struct backup_header *backup_opener_header(const struct backup_opener *);
uint64_t backup_opener_chunks(const struct backup_opener *);
uint64_t backup_opener_plain_bytes(const struct backup_opener *);
void	 backup_opener_free(struct backup_opener *);

/*
 * The manifest NAME.manifest.json: one line, one JSON object with the
 * members in this order, hmac last:
 *   {"format":1,"time":"YYYY-MM-DDTHH:MM:SSZ","database":"...",
 *    "bytes":N,"sha256":"<64 hex>","pg_dump":"...","hmac":"<64 hex>"}\n
 * hmac = HMAC-SHA256(manifest key, the bytes from '{' up to, not
 * including, the ',' of ,"hmac":); manifest key = HKDF-SHA256(backup key,
 * no salt, "bulwark backup v1 manifest").
 */
#define BACKUP_TIME_LEN		20	/* YYYY-MM-DDTHH:MM:SSZ */
#define BACKUP_PGDUMP_MAX	127

struct backup_manifest {
	int		 format;
	char		 time[BACKUP_TIME_LEN + 1];
	char		 database[BACKUP_DBNAME_MAX + 1];
	uint64_t	 bytes;
	char		 sha256[65];
	char		 pg_dump[BACKUP_PGDUMP_MAX + 1];
};

/* The manifest text (malloc'd, *len bytes, ends in a newline). */
char	*backup_manifest_encode(const uint8_t key[BACKUP_KEY_LEN],
	    const struct backup_manifest *, size_t *len, struct backup_err *);
/* Authenticates and parses a manifest; -1 with the reason. */
int	 backup_manifest_decode(const uint8_t key[BACKUP_KEY_LEN],
	    const char *, size_t, struct backup_manifest *,
	    struct backup_err *);
/* time as YYYY-MM-DDTHH:MM:SSZ (UTC) into BACKUP_TIME_LEN + 1 bytes. */
int	 backup_time_text(uint64_t time, char *buf);

#endif
