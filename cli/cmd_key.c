/*
 * cmd_key.c -- `hangar key add|remove|list STORE`: the key slots of an
 * encrypted store (core/keyslot.h).  Every slot wraps the same master
 * key, so adding or removing one re-encrypts nothing.
 *
 *   add     the current secret (--keyfile / --passphrase-fd, else asked
 *           on the terminal) opens the store; the new one (--new-keyfile /
 *           --new-passphrase-fd, else asked on the terminal, twice) gets
 *           a free slot
 *   remove  --slot N, with a current secret; the last slot is refused
 *   list    the slots: index, kind, creation time, KDF strength.  Needs
 *           no key (the area is public); with one, it is checked too
 *
 * The key area is not container data, so this works on a mounted store
 * too (core serialises key changes with an flock).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "units.h"

void usage_key(FILE *f)
{
	fprintf(f,
		"usage: hangar key add [STORE] [--keyfile FILE | "
		"--passphrase-fd "
		"N]\n"
		"                  [--new-keyfile FILE | --new-passphrase-fd "
		"N]\n"
		"       hangar key remove [STORE] --slot N [--keyfile FILE | "
		"--passphrase-fd N]\n"
		"       hangar key list [STORE] [--json]\n"
		"Manage the key slots of an encrypted store (up to %u): add a "
		"passphrase or\n"
		"a recovery key file, remove one, list them.  No data is "
		"re-encrypted.\n\n" CLI_KEY_USAGE
		"      --new-keyfile FILE  add: the new slot opens with "
		"FILE's bytes\n"
		"      --new-passphrase-fd N\n"
		"                          add: ... or with a passphrase read "
		"from N\n"
		"                          (neither: asked on the terminal, "
		"twice)\n"
		"  -s, --slot N            remove: the slot to empty (see "
		"`key list`)\n"
		"  -j, --json              list: print JSON\n"
		"  -h, --help              show this help\n",
		KEYSLOT_COUNT);
}

static const char *kind_text(enum keyslot_kind kind)
{
	switch (kind) {
	case KEYSLOT_KIND_PASSPHRASE:
		return "passphrase";
	case KEYSLOT_KIND_KEYFILE:
		return "keyfile";
	default:
		return "unknown";
	}
}

/* The slots without a key: read STORE/.hangar-keys and describe it. */
static int key_list_file(const char *dir, struct keyslot_info *info,
			 unsigned *count)
{
	char path[PATH_MAX + 32];
	uint8_t area[KEYSLOT_AREA_SIZE + 1];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_KEYS_NAME);
	f = fopen(path, "rbe");
	if (!f)
		return -errno;
	len = fread(area, 1, sizeof(area), f);
	fclose(f);
	return keyslot_list(area, len, info, count);
}

static struct json_object *key_slot_json(const struct keyslot_info *k)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *kdf = json_object_new_object();

	if (!obj || !kdf) {
		json_object_put(obj);
		json_object_put(kdf);
		return NULL;
	}
	json_object_object_add(obj, "slot", cli_json_u64(k->index));
	json_object_object_add(obj, "kind",
			       json_object_new_string(kind_text(k->kind)));
	json_object_object_add(obj, "created",
			       cli_json_time((struct timespec){
				       .tv_sec = (time_t)k->created_sec}));
	json_object_object_add(kdf, "name", json_object_new_string("scrypt"));
	json_object_object_add(kdf, "log2_n", cli_json_u64(k->kdf.log2_n));
	json_object_object_add(kdf, "r", cli_json_u64(k->kdf.r));
	json_object_object_add(kdf, "p", cli_json_u64(k->kdf.p));
	json_object_object_add(obj, "kdf", kdf);
	json_object_object_add(obj, "error",
			       k->error ? cli_json_text(cli_strerror(k->error))
					: NULL);
	return obj;
}

static int key_print_json(const struct keyslot_info *info, unsigned count)
{
	struct json_object *root = json_object_new_object();
	struct json_object *slots = json_object_new_array();

	if (!root || !slots) {
		json_object_put(root);
		json_object_put(slots);
		return cli_json_print(NULL);
	}
	json_object_object_add(root, "cipher",
			       json_object_new_string("aes-256-gcm"));
	for (unsigned i = 0; i < count; i++)
		json_object_array_add(slots, key_slot_json(&info[i]));
	json_object_object_add(root, "slots", slots);
	return cli_json_print(root);
}

static void key_print(const struct keyslot_info *info, unsigned count)
{
	char when[FORMAT_TIME_LEN];

	printf("SLOT  KIND        CREATED              KDF\n");
	for (unsigned i = 0; i < count; i++) {
		const struct keyslot_info *k = &info[i];
		struct timespec ts = {.tv_sec = (time_t)k->created_sec};

		format_time(when, ts);
		if (k->error) {
			printf("%-4u  %-10s  %-19s  damaged: %s\n", k->index,
			       "?", "-", cli_strerror(k->error));
		} else {
			printf("%-4u  %-10s  %-19s  scrypt N=2^%" PRIu32
			       " r=%" PRIu32 " p=%" PRIu32 "\n",
			       k->index, kind_text(k->kind), when,
			       k->kdf.log2_n, k->kdf.r, k->kdf.p);
		}
	}
}

static int key_list(const char *dir, bool json)
{
	struct keyslot_info info[KEYSLOT_COUNT];
	unsigned count = 0;
	struct cli_store cs;
	int rc;

	if (cli_key.keyfile || cli_key.passphrase_fd >= 0) {
		if (cli_store_open(dir, CLI_ACCESS_READ, &cs) != 0)
			return CLI_EXIT_FAIL;
		rc = store_is_encrypted(cs.store)
			     ? store_key_list(cs.store, info, &count)
			     : -ENOTSUP;
		cli_store_close(&cs);
	} else {
		rc = key_list_file(dir, info, &count);
	}
	if (rc == -ENOENT || rc == -ENOTSUP) {
		struct store_probe probe;

		if (rc == -ENOTSUP || store_probe(dir, &probe) == 0)
			cli_error("%s: the store is not encrypted: it has no "
				  "key slots",
				  dir);
		else
			cli_error("%s: not a hangar store", dir);
		return CLI_EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s: cannot read the key slots: %s", dir,
			  cli_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	if (!json) {
		key_print(info, count);
		return CLI_EXIT_OK;
	}
	return key_print_json(info, count) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* Open the store for a key change, with a current secret (cli_store_open
 * asks for it when no key option was given). */
static int key_open(const char *dir, struct cli_store *cs)
{
	if (cli_store_open(dir, CLI_ACCESS_READ, cs) != 0)
		return CLI_EXIT_FAIL;
	if (!store_is_encrypted(cs->store)) {
		cli_error("%s: the store is not encrypted: it has no key slots",
			  dir);
		cli_store_close(cs);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int key_add(const char *dir, const char *new_keyfile, int new_fd)
{
	struct cli_store cs;
	struct secret secret = {0};
	unsigned slot = 0;
	int rc, exit_code;

	if (new_keyfile && new_fd >= 0)
		return cli_usage_error(usage_key,
				       "give one of --new-keyfile or "
				       "--new-passphrase-fd, not both");
	exit_code = key_open(dir, &cs);
	if (exit_code != CLI_EXIT_OK)
		return exit_code;
	rc = cli_secret_new(dir, new_keyfile, new_fd, true,
			    "no terminal to ask for the new passphrase: give "
			    "--new-keyfile FILE or --new-passphrase-fd N",
			    &secret);
	if (rc) {
		cli_store_close(&cs);
		return CLI_EXIT_FAIL;
	}
	rc = store_key_add(cs.store,
			   new_keyfile ? KEYSLOT_KIND_KEYFILE
				       : KEYSLOT_KIND_PASSPHRASE,
			   secret.buf, secret.len, NULL, &slot);
	secret_free(&secret);
	exit_code = CLI_EXIT_FAIL;
	if (rc == -ENOSPC)
		cli_error("%s: all %u key slots are used; remove one first",
			  dir, KEYSLOT_COUNT);
	else if (rc)
		cli_error("%s: cannot add a key slot: %s", dir,
			  cli_strerror(rc));
	else {
		printf("added key slot %u (%s) to %s\n", slot,
		       new_keyfile ? "keyfile" : "passphrase", dir);
		exit_code = CLI_EXIT_OK;
	}
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}

static int key_remove(const char *dir, long slot)
{
	struct cli_store cs;
	int rc, exit_code;

	if (slot < 0)
		return cli_usage_error(usage_key, "key remove needs --slot N");
	if (slot >= (long)KEYSLOT_COUNT)
		return cli_usage_error(usage_key, "slot %ld: slots are 0 to %u",
				       slot, KEYSLOT_COUNT - 1);
	exit_code = key_open(dir, &cs);
	if (exit_code != CLI_EXIT_OK)
		return exit_code;
	rc = store_key_remove(cs.store, (unsigned)slot);
	exit_code = CLI_EXIT_FAIL;
	if (rc == -EBUSY)
		cli_error("%s: slot %ld is the last key slot; removing it "
			  "would make the store unreadable for good: add "
			  "another key first (hangar key add)",
			  dir, slot);
	else if (rc == -ENOENT)
		cli_error("%s: slot %ld is empty (see hangar key list)", dir,
			  slot);
	else if (rc)
		cli_error("%s: cannot remove key slot %ld: %s", dir, slot,
			  cli_strerror(rc));
	else {
		printf("removed key slot %ld from %s\n", slot, dir);
		exit_code = CLI_EXIT_OK;
	}
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}

int cmd_key(int argc, char **argv)
{
	enum { OPT_NEW_KEYFILE = 0x201, OPT_NEW_PASSPHRASE_FD };
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"new-keyfile", required_argument, NULL, OPT_NEW_KEYFILE},
		{"new-passphrase-fd", required_argument, NULL,
		 OPT_NEW_PASSPHRASE_FD},
		{"slot", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *new_keyfile = NULL, *action, *dir;
	char store_buf[4096];
	long new_fd = -1, slot = -1;
	const char *why;
	uint64_t value;
	bool json = false;
	int opt, exit_code;

	while ((opt = getopt_long(argc, argv, ":s:jh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_key, &exit_code))
			return exit_code;
		if (opt == OPT_NEW_KEYFILE) {
			new_keyfile = optarg;
		} else if (opt == OPT_NEW_PASSPHRASE_FD) {
			if (units_parse_uint(optarg, 0, INT_MAX, &value,
					     &why) != 0)
				return cli_usage_error(
					usage_key, "bad descriptor '%s': %s",
					optarg, why);
			new_fd = (long)value;
		} else if (opt == 's') {
			if (units_parse_uint(optarg, 0, INT_MAX, &value,
					     &why) != 0)
				return cli_usage_error(usage_key,
						       "bad slot '%s': %s",
						       optarg, why);
			slot = (long)value;
		} else if (opt == 'j') {
			json = true;
		}
	}
	action = optind < argc ? argv[optind++] : NULL;
	dir = action ? cli_store_operand(argc, argv, 0, store_buf,
					 sizeof(store_buf))
		     : NULL;
	if (!dir || argc - optind != 0)
		return cli_usage_error(usage_key,
				       !dir ? "missing add|remove|list or "
					      "STORE"
					    : "too many arguments");
	if (strcmp(action, "list") == 0)
		return key_list(dir, json);
	if (strcmp(action, "add") == 0)
		return key_add(dir, new_keyfile, (int)new_fd);
	if (strcmp(action, "remove") == 0 || strcmp(action, "rm") == 0)
		return key_remove(dir, slot);
	return cli_usage_error(usage_key,
			       "unknown key action '%s' (add, remove, list)",
			       action);
}
