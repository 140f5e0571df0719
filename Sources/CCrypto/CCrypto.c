// Lazily loaded libcrypto digests: see include/CCrypto.h.
#include "CCrypto.h"

#include <dlfcn.h>
#include <pthread.h>
#include <openssl/evp.h>

static struct {
    __typeof__(&EVP_MD_CTX_new) ctx_new;
    __typeof__(&EVP_MD_CTX_free) ctx_free;
    __typeof__(&EVP_sha256) sha256;
    __typeof__(&EVP_sha512) sha512;
    __typeof__(&EVP_DigestInit_ex) init;
    __typeof__(&EVP_DigestUpdate) update;
    __typeof__(&EVP_DigestFinal_ex) final;
    const char *error;
} crypto;

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_load(void) {
    // The soname of OpenSSL 3 (Debian's libssl3 / libssl3t64); the unversioned name is the
    // development link, present where libssl-dev is.
    void *handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) handle = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        crypto.error = "cannot load OpenSSL's libcrypto.so.3 for SHA-256/SHA-512 digests: "
                       "install it (Debian: libssl3)";
        return;
    }
#define LOAD(field, name)                                                                   \
    do {                                                                                    \
        *(void **)&crypto.field = dlsym(handle, name);                                      \
        if (crypto.field == NULL) {                                                         \
            crypto.error = "libcrypto lacks " name ": OpenSSL 1.1 or later is required";   \
            return;                                                                         \
        }                                                                                   \
    } while (0)
    LOAD(ctx_new, "EVP_MD_CTX_new");
    LOAD(ctx_free, "EVP_MD_CTX_free");
    LOAD(sha256, "EVP_sha256");
    LOAD(sha512, "EVP_sha512");
    LOAD(init, "EVP_DigestInit_ex");
    LOAD(update, "EVP_DigestUpdate");
    LOAD(final, "EVP_DigestFinal_ex");
#undef LOAD
    // The handle stays open for the life of the process.
}

void *kujira_digest_new(int sha512, const char **error) {
    pthread_once(&crypto_once, crypto_load);
    if (crypto.error != NULL) {
        if (error != NULL) *error = crypto.error;
        return NULL;
    }
    EVP_MD_CTX *context = crypto.ctx_new();
    if (context == NULL) {
        if (error != NULL) *error = "EVP_MD_CTX_new: out of memory";
        return NULL;
    }
    if (crypto.init(context, sha512 ? crypto.sha512() : crypto.sha256(), NULL) != 1) {
        crypto.ctx_free(context);
        if (error != NULL) *error = "EVP_DigestInit_ex failed";
        return NULL;
    }
    return context;
}

void kujira_digest_update(void *context, const void *bytes, size_t length) {
    crypto.update((EVP_MD_CTX *)context, bytes, length);
}

unsigned kujira_digest_final(void *context, unsigned char *out) {
    unsigned int length = 0;
    crypto.final((EVP_MD_CTX *)context, out, &length);
    return length;
}

void kujira_digest_free(void *context) {
    crypto.ctx_free((EVP_MD_CTX *)context);
}
