/*
 * proc — process-level chores: dropping root after the ports are bound.
 */
#include "core/core.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

int proc_drop_privileges(const char *user, struct buf *err)
{
	if (!user || !*user || geteuid() != 0)
		return 0;
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		buf_printf(err, "[server] user: no such user '%s'", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		buf_printf(err, "cannot switch to user '%s': %s", user, strerror(errno));
		return -1;
	}
	/* Must not be able to get root back. */
	if (setuid(0) == 0) {
		buf_printf(err, "still able to regain root after switching to '%s'", user);
		return -1;
	}
	return 0;
}

int proc_user_ids(const char *user, unsigned *uid_r, unsigned *gid_r, struct buf *err)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		buf_printf(err, "[server] user: no such user '%s'", user);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}
