# SPDX-License-Identifier: GPL-2.0
# The proc backend's guest side: libremus-guest and the demo guest.
