package sqlstore

import (
	"errors"
	"strings"
	"sync"
	"unicode"

	"gorm.io/gorm"
)

// writeLock serialises this process's writes to a SQLite database. SQLite
// has one writer at a time; a second writer that finds the lock taken is
// put to sleep by the driver's busy handler, in steps of up to 100 ms, and
// does not wake when the lock is freed: under load that gave refreshes and
// logins tails of 1-2 s while the database sat idle. Waiting on a Go mutex
// instead hands the lock over as soon as it is released. busy_timeout
// stays as the net for writers this process does not see (the idp CLI).
//
// Transactions (all BEGIN IMMEDIATE, so all writers) take the lock for
// their whole length in Store.tx; single write statements outside a
// transaction take it through gorm callbacks around create, update,
// delete and Exec, and around raw writes read with Find (INSERT ...
// RETURNING). Reads never take it: WAL lets them run beside the writer.
// PostgreSQL has row locks and needs none of this.
type writeLock struct{ mu sync.Mutex }

const writeLockKey = "sqlstore:write_lock"

// register installs the callbacks on db.
func (l *writeLock) register(db *gorm.DB) error {
	cb := db.Callback()
	return errors.Join(
		cb.Create().Before("gorm:create").Register("sqlstore:lock_create", l.before),
		cb.Create().After("gorm:create").Register("sqlstore:unlock_create", l.after),
		cb.Update().Before("gorm:update").Register("sqlstore:lock_update", l.before),
		cb.Update().After("gorm:update").Register("sqlstore:unlock_update", l.after),
		cb.Delete().Before("gorm:delete").Register("sqlstore:lock_delete", l.before),
		cb.Delete().After("gorm:delete").Register("sqlstore:unlock_delete", l.after),
		cb.Raw().Before("gorm:raw").Register("sqlstore:lock_raw", l.before),
		cb.Raw().After("gorm:raw").Register("sqlstore:unlock_raw", l.after),
		cb.Query().Before("gorm:query").Register("sqlstore:lock_query", l.beforeRaw),
		cb.Query().After("gorm:query").Register("sqlstore:unlock_query", l.after),
		cb.Row().Before("gorm:row").Register("sqlstore:lock_row", l.beforeRaw),
		cb.Row().After("gorm:row").Register("sqlstore:unlock_row", l.after),
	)
}

// beforeRaw locks for a query that is a raw write statement: a query
// gorm builds itself is a SELECT, and its SQL is not written yet here.
func (l *writeLock) beforeRaw(db *gorm.DB) {
	if rawWrite(db.Statement.SQL.String()) {
		l.before(db)
	}
}

// rawWrite tells a statement that writes by its first word.
func rawWrite(sql string) bool {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	if end := strings.IndexFunc(sql, unicode.IsSpace); end >= 0 {
		sql = sql[:end]
	}
	switch strings.ToUpper(sql) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return true
	}
	return false
}

// before locks unless the statement runs inside a transaction, which
// already holds the lock (Store.tx).
func (l *writeLock) before(db *gorm.DB) {
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return
	}
	l.mu.Lock()
	db.Statement.Settings.Store(writeLockKey, true)
}

// after unlocks what before locked; gorm runs every callback of a chain,
// errors or not, so the lock is always given back.
func (l *writeLock) after(db *gorm.DB) {
	if _, locked := db.Statement.Settings.LoadAndDelete(writeLockKey); locked {
		l.mu.Unlock()
	}
}
