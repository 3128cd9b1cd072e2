/*
 * schema_undo.h — SQL that takes a store back from the current schema to an
 * older one, for the tests of the migrations in between (test_store.c,
 * test_store_search.c). Each test undoes the migrations after the one it tests
 * with these, newest first, then its own, then sets user_version. A new
 * migration adds its undo here, and to the chain.
 */
#ifndef PETREL_TESTS_SCHEMA_UNDO_H
#define PETREL_TESTS_SCHEMA_UNDO_H

/* 12: the counts of references back in the blob rows. */
#define SCHEMA_UNDO_12                                                                             \
	"UPDATE blob SET refcount = (SELECT refcount FROM blob_ref WHERE blob_id = blob.id);"      \
	"DROP TABLE blob_ref;"
/* 11: the indexes of the foreign keys that had none. */
#define SCHEMA_UNDO_11                                                                             \
	"DROP INDEX queue_message_blob; DROP INDEX alias_domain; DROP INDEX webhook_api_key;"
/* Back to schema 10. */
#define SCHEMA_UNDO_TO_10 SCHEMA_UNDO_12 SCHEMA_UNDO_11

#endif
