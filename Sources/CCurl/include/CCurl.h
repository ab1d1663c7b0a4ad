#ifndef C_CURL_H
#define C_CURL_H

/* The C side of harepost's outbound HTTP: libcurl, and fixed-argument wrappers
 * for its variadic calls (Swift cannot call C variadics). Only HarepostCurl
 * imports this. */

#include <stddef.h>
#include <curl/curl.h>

/* CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION. */
typedef size_t (*hp_curl_data_callback)(char *data, size_t size, size_t count, void *context);

/* CURLOPT_OPENSOCKETFUNCTION: decides, per address curl is about to connect
 * to, whether to open a socket (CURL_SOCKET_BAD refuses the address). */
typedef curl_socket_t (*hp_curl_open_socket_callback)(void *context, curlsocktype purpose,
                                                      struct curl_sockaddr *address);

/* curl_global_init(CURL_GLOBAL_DEFAULT): once per process, before any handle. */
CURLcode hp_curl_global_init(void);

CURLcode hp_curl_easy_set_long(CURL *easy, CURLoption option, long value);
CURLcode hp_curl_easy_set_off_t(CURL *easy, CURLoption option, curl_off_t value);
CURLcode hp_curl_easy_set_string(CURL *easy, CURLoption option, const char *value);
CURLcode hp_curl_easy_set_pointer(CURL *easy, CURLoption option, void *value);
CURLcode hp_curl_easy_set_slist(CURL *easy, CURLoption option, struct curl_slist *value);
CURLcode hp_curl_easy_set_write_callback(CURL *easy, hp_curl_data_callback callback, void *context);
CURLcode hp_curl_easy_set_header_callback(CURL *easy, hp_curl_data_callback callback, void *context);
CURLcode hp_curl_easy_set_open_socket_callback(CURL *easy, hp_curl_open_socket_callback callback, void *context);

CURLcode hp_curl_easy_get_long(CURL *easy, CURLINFO info, long *value);
CURLcode hp_curl_easy_get_off_t(CURL *easy, CURLINFO info, curl_off_t *value);
CURLcode hp_curl_easy_get_string(CURL *easy, CURLINFO info, const char **value);

CURLMcode hp_curl_multi_set_long(CURLM *multi, CURLMoption option, long value);

/* The result of a finished transfer in a CURLMSG_DONE message. */
CURLcode hp_curl_message_result(const CURLMsg *message);

/* Writes `address` (IPv4 or IPv6) as numeric text into `buffer`; 0 on success. */
int hp_curl_sockaddr_text(const struct curl_sockaddr *address, char *buffer, size_t length);

#endif
