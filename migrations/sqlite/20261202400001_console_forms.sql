-- Console forms whose result is shown once (a regenerated secret, a personal token, a
-- generated key file), by the id each rendering of the form carries: a reload that posts
-- the same form again finds its id here and is told the result was already shown, instead
-- of making a second secret. Rows older than a day are pruned when a form is claimed.
create table console_forms (
    id      text primary key,
    sent_at integer not null
) without rowid;
create index console_forms_sent on console_forms (sent_at);
