// SHA-256/SHA-512 through OpenSSL's libcrypto, opened with dlopen on the first digest.
//
// Linking libcrypto made the dynamic loader map and relocate it (~1.5 MB, thousands of symbol
// relocations) at the start of every program that links KujiraOCI, kujira-runtime included,
// which never hashes on its container path. The library is now loaded the first time a
// digest is computed; the hashing itself is still OpenSSL's (SHA extensions where present).
#ifndef KUJIRA_CCRYPTO_H
#define KUJIRA_CCRYPTO_H

#include <stddef.h>

/// The largest digest kujira_digest_final writes (SHA-512).
#define KUJIRA_DIGEST_MAX_SIZE 64

/// Starts a SHA-512 (`sha512` non-zero) or SHA-256 hash. Returns NULL when libcrypto cannot
/// be loaded or the context cannot be allocated; `*error` then points to a static message
/// that names the library and what to install.
void *kujira_digest_new(int sha512, const char **error);

/// Feeds `length` bytes into the hash.
void kujira_digest_update(void *context, const void *bytes, size_t length);

/// Finishes the hash into `out` (KUJIRA_DIGEST_MAX_SIZE bytes) and returns its length.
unsigned kujira_digest_final(void *context, unsigned char *out);

/// Frees a context from kujira_digest_new.
void kujira_digest_free(void *context);

#endif
