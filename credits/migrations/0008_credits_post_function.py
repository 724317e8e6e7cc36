from django.db import migrations

# The one posting of credits (credits.services._post and the marketplace purchase function both call it): the
# balance moves and its ledger row is written in the same statement's transaction, the UPDATE takes the row lock
# and enforces 0 <= balance <= max_balance against the latest committed value. No row back means the account is
# missing or the move is refused; the caller says which.
POST_FUNCTION = """
CREATE OR REPLACE FUNCTION credits_post(
    p_workspace_id bigint, p_kind varchar, p_amount numeric, p_reference varchar, p_actor_id bigint, p_reason text,
    p_max_balance numeric
) RETURNS TABLE (
    account_id bigint, balance numeric, low_balance_threshold numeric, auto_reload_enabled boolean,
    transaction_id bigint, created_at timestamptz
) LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credits_creditaccount AS account
    SET balance = account.balance + p_amount, updated_at = now()
    WHERE account.workspace_id = p_workspace_id AND account.balance + p_amount BETWEEN 0 AND p_max_balance
    RETURNING account.id, account.balance, account.low_balance_threshold, account.auto_reload_enabled
    INTO account_id, balance, low_balance_threshold, auto_reload_enabled;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    created_at := clock_timestamp();
    INSERT INTO credits_credittransaction (account_id, kind, amount, balance_after, reference, reason, actor_id, created_at)
    VALUES (account_id, p_kind, p_amount, balance, p_reference, p_reason, p_actor_id, created_at)
    RETURNING id INTO transaction_id;
    RETURN NEXT;
END
$$
"""


class Migration(migrations.Migration):
    dependencies = [("credits", "0007_onboarding_bonus_kind")]

    operations = [
        migrations.RunSQL(
            POST_FUNCTION, "DROP FUNCTION credits_post(bigint, varchar, numeric, varchar, bigint, text, numeric)"
        )
    ]
