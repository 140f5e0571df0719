// OpenSSL's libssl for KujiraRegistry's TLS. A few of the calls it needs are macros over
// SSL_ctrl/SSL_CTX_ctrl, which Swift cannot import; the inline functions below wrap them.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static inline long kujira_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int kujira_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long kujira_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline int kujira_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline long kujira_SSL_MODE_AUTO_RETRY(void) { return SSL_MODE_AUTO_RETRY; }
