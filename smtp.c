/*
 * NAME
 *	smtp - ESMTP protocol cores of the before-queue proxy
 * DESCRIPTION
 *	Placeholder; the protocol cores follow.
 */
#include "detach.h"
