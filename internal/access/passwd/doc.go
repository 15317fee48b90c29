// Package passwd is EMQX 4.4's password hashing (emqx_passwd) and the
// record format of its built-in database (emqx_auth_mnesia), so that a user
// exported from EMQX verifies here and the other way round.
//
// Digests (md5, sha, sha256, sha512) are written as lowercase hex; plain is
// the password itself; bcrypt is the 60-character crypt string; pbkdf2 is
// the derived key in lowercase hex.
//
// A user record of the built-in database (table emqx_user, column
// password) is four random salt bytes followed by the hash of the salt
// followed by the password:
//
//	record = salt(4) ++ hash(salt ++ password)
//
// with the algorithm of auth.mnesia.password_hash (plain, md5, sha, sha256,
// sha512; default sha256). With plain the record is salt ++ salt ++
// password. A record whose length is exactly that of an unsalted hex digest
// of the algorithm (32, 40, 64 or 128 bytes) is taken as an unsalted digest
// of the password, as EMQX does (records stored without a salt). EMQX's
// data export (emqx_ctl data export, the dashboard backup) writes the record
// in standard base64, padded: EncodeRecord and DecodeRecord.
package passwd
