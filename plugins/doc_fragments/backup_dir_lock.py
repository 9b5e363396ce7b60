# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The lock every module writing backups holds on its destination dir (_host.files.DirLock); its option spec is
    # _argspec.BACKUP_DIR_LOCK.
    DOCUMENTATION = r"""
options:
  lock_timeout:
    description:
      - Seconds to wait for another run writing in O(dest_dir) (the module holds an exclusive lock on the dir while
        it writes there; another run waits for it, then chooses its own name). Past this, the module fails naming
        the run that holds the lock; nothing was written.
      - Under the lock, temp files of killed runs (C(.<prefix>-*.partial)) are removed (RV(removed_partials)), and
        the final name never replaces an existing file (a C(-2), C(-3)... suffix is added on a clash).
    type: float
    default: 600
"""
