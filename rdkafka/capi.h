// The engine's own declarations of the part of librdkafka's documented C
// API that its cgo layers call (cproduce.go: the batched produce path;
// batch.go: the batched fetch path), written from the API's documentation
// (rdkafka.h), not copied from its header. The symbols come from the
// librdkafka that confluent-kafka-go links into the program. Handles are
// opaque here; the two structs the engine reads, rd_kafka_message_t and
// rd_kafka_metadata_t, are declared with librdkafka's documented public
// layout. Both cgo preambles include this file, so that each C type and
// function has one declaration, and one Go type (C.gk_rk, ...).

#ifndef GOKAFKA_CAPI_H
#define GOKAFKA_CAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct gk_rk gk_rk;           // rd_kafka_t
typedef struct gk_conf gk_conf;       // rd_kafka_conf_t
typedef struct gk_rkt gk_rkt;         // rd_kafka_topic_t
typedef struct gk_queue gk_queue;     // rd_kafka_queue_t
typedef struct gk_event gk_event;     // rd_kafka_event_t
typedef struct gk_headers gk_headers; // rd_kafka_headers_t

// rd_kafka_message_t
typedef struct {
	int err;
	gk_rkt *rkt;
	int32_t partition;
	void *payload;
	size_t len;
	void *key;
	size_t key_len;
	int64_t offset;
	void *priv;
} gk_message;

// rd_kafka_metadata_t (only the fields up to the originating broker)
typedef struct {
	int broker_cnt;
	void *brokers;
	int topic_cnt;
	void *topics;
	int32_t orig_broker_id;
	char *orig_broker_name;
} gk_metadata;

// Instances, configurations and their callbacks.
gk_conf *rd_kafka_conf_new(void);
int rd_kafka_conf_set(gk_conf *conf, const char *name, const char *value, char *errstr, size_t errstr_size);
void rd_kafka_conf_destroy(gk_conf *conf);
void rd_kafka_conf_set_events(gk_conf *conf, int events);
const gk_conf *rd_kafka_conf(gk_rk *rk);
void rd_kafka_conf_set_error_cb(gk_conf *conf, void (*error_cb)(gk_rk *rk, int err, const char *reason, void *opaque));
void rd_kafka_conf_set_stats_cb(gk_conf *conf, int (*stats_cb)(gk_rk *rk, char *json, size_t json_len, void *opaque));
gk_rk *rd_kafka_new(int type, gk_conf *conf, char *errstr, size_t errstr_size);
void rd_kafka_destroy(gk_rk *rk);
const char *rd_kafka_name(const gk_rk *rk);
int rd_kafka_fatal_error(gk_rk *rk, char *errstr, size_t errstr_size);
const char *rd_kafka_err2str(int err);
void rd_kafka_mem_free(void *rk, void *ptr);

// Queues and events.
gk_queue *rd_kafka_queue_get_main(gk_rk *rk);
gk_queue *rd_kafka_queue_get_consumer(gk_rk *rk);
void rd_kafka_queue_destroy(gk_queue *q);
void rd_kafka_queue_yield(gk_queue *q);
int rd_kafka_set_log_queue(gk_rk *rk, gk_queue *q);
gk_event *rd_kafka_queue_poll(gk_queue *q, int timeout_ms);
int rd_kafka_event_type(const gk_event *ev);
size_t rd_kafka_event_message_count(gk_event *ev);
size_t rd_kafka_event_message_array(gk_event *ev, const gk_message **msgs, size_t size);
int rd_kafka_event_error(gk_event *ev);
const char *rd_kafka_event_error_string(gk_event *ev);
int rd_kafka_event_error_is_fatal(gk_event *ev);
int rd_kafka_event_log(gk_event *ev, const char **fac, const char **str, int *level);
const char *rd_kafka_event_stats(gk_event *ev);
void rd_kafka_event_destroy(gk_event *ev);

// Topics, messages and headers.
gk_rkt *rd_kafka_topic_new(gk_rk *rk, const char *topic, void *conf);
void rd_kafka_topic_destroy(gk_rkt *rkt);
const char *rd_kafka_topic_name(const gk_rkt *rkt);
int rd_kafka_producev(gk_rk *rk, ...);
int rd_kafka_flush(gk_rk *rk, int timeout_ms);
int rd_kafka_purge(gk_rk *rk, int purge_flags);
ssize_t rd_kafka_consume_batch_queue(gk_queue *q, int timeout_ms, gk_message **msgs, size_t size);
void rd_kafka_message_destroy(gk_message *msg);
int64_t rd_kafka_message_timestamp(const gk_message *msg, int *tstype);
int rd_kafka_message_headers(const gk_message *msg, gk_headers **hdrsp);
gk_headers *rd_kafka_headers_new(size_t initial_count);
void rd_kafka_headers_destroy(gk_headers *hdrs);
int rd_kafka_header_add(gk_headers *hdrs, const char *name, ssize_t name_size, const void *value, ssize_t value_size);
size_t rd_kafka_header_cnt(const gk_headers *hdrs);
int rd_kafka_header_get_all(const gk_headers *hdrs, size_t idx, const char **namep, const void **valuep, size_t *sizep);
int rd_kafka_metadata(gk_rk *rk, int all_topics, gk_rkt *only_rkt, const gk_metadata **metadatap, int timeout_ms);
void rd_kafka_metadata_destroy(const gk_metadata *metadata);

#endif
