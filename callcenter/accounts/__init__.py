"""Accounts administration (账号管理): the ``/admin/users`` page where an administrator adds
accounts, resets passwords, disables and re-enables accounts, sets the ACD agent id and phone,
and lifts log-in locks — what ``callcenter users`` does from the shell, for operators who do not
have one.  Every change is logged with who made it."""
