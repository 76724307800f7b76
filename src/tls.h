/*
 * tls.h - the server TLS context (SPEC 11): protocol range, ciphers,
 * groups and options set explicitly (the system openssl.cnf has no say),
 * certificate and key, optional mutual TLS, SNI checked against
 * server.hostnames, and session tickets under keys made by the master.
 *
 * Ticket keys are secrets: the master generates them, sends them to every
 * worker over the channel, rotates them hourly and keeps the previous key
 * for one more hour so tickets issued just before a rotation still resume.
 * A context holds at most two keys; replaced keys are wiped.
 */
#ifndef BW_TLS_H
#define BW_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct conf_tls;
struct chan_ticket_keys;

/*
 * Build a server context.  hostnames (n of them, may be 0) are copied;
 * when n > 0 an SNI name outside the list is recorded on the connection
 * (tls_sni_mismatch) and the request is later answered 421; the handshake
 * itself goes on.  The private key is opened by secret_open() (owner,
 * mode, no symbolic link) and read from that descriptor into memory that is
 * wiped; the certificate chain is read from one descriptor of a regular
 * file (at most 1 MiB).  Returns NULL with *err set.  Until
 * tls_ticket_keys_set is called no session ticket is issued.
 */
SSL_CTX	*tls_ctx_new(const struct conf_tls *, char *const *hostnames,
	    size_t n, const char **err);
/*
 * The same with the private key given (not read from c->private_key): the
 * master's, whose key lives in the key manager (tlskey.h).  The context
 * takes a reference of its own.  SSL_CTX_check_private_key still refuses a
 * key that does not match the certificate.
 */
SSL_CTX	*tls_ctx_new_key(const struct conf_tls *, EVP_PKEY *key,
	    char *const *hostnames, size_t n, const char **err);
void	 tls_ctx_free(SSL_CTX *);

/*
 * A private key from PEM text (unencrypted; no passphrase is asked for):
 * the key, or NULL with *err set.  The caller wipes pem.
 */
EVP_PKEY *tls_key_parse(const unsigned char *pem, size_t len,
	    const char **err);

/* Install (copy) current and previous ticket keys; older ones are wiped. */
int	 tls_ticket_keys_set(SSL_CTX *, const struct chan_ticket_keys *);
/* Fresh random keys: a new current, no previous. */
int	 tls_ticket_keys_generate(struct chan_ticket_keys *);
/* Rotation: current becomes previous, a new random current is made. */
int	 tls_ticket_keys_rotate(struct chan_ticket_keys *);

/* True when the client sent an SNI name outside server.hostnames. */
bool	 tls_sni_mismatch(const SSL *);

/*
 * The verified client certificate's subject (RFC 2253, control bytes
 * escaped) into buf; returns 0, or -1 when the client sent none.
 */
int	 tls_peer_subject(SSL *, char *buf, size_t bufsz);

/* The last OpenSSL error as a short static-or-thread-local text. */
const char *tls_error(void);

#endif
