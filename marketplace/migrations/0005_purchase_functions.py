from django.db import migrations

# A credit purchase in one call (marketplace.services._purchase_with_credits): the statements it used to send one
# by one, each a round trip and an ORM object or two, run inside the database. Each rule is written once and
# every path uses it: `marketplace_listings_lock` (which listings can be bought now) serves credit and card
# purchases; `marketplace_deliver` (the buyer's leads, scored by `leads_score`, the items, the listings sold,
# the partners' shares through `credits_post`, the confirmation job and the events) serves credit purchases and
# paid card checkouts; `marketplace_purchase_credits` puts them together with the debit.
LISTINGS_LOCK = """
CREATE OR REPLACE FUNCTION marketplace_listings_lock(p_workspace_id bigint, p_ids bigint[])
RETURNS TABLE (r_outcome text, r_ids bigint[]) LANGUAGE plpgsql AS $$
DECLARE
    v_locked bigint[];
    v_taken bigint[];
    v_own bigint[];
    v_bad bigint[];
BEGIN
    -- Id order, never waiting: a listing locked right now is being bought by someone else.
    WITH locked AS (
        SELECT listing.id, listing.status, listing.partner_id FROM marketplace_listing AS listing
        WHERE listing.id = ANY(p_ids) ORDER BY listing.id FOR NO KEY UPDATE SKIP LOCKED
    )
    SELECT coalesce(array_agg(id ORDER BY id), '{}'),
           coalesce(array_agg(id ORDER BY id) FILTER (WHERE status <> 'available'), '{}'),
           coalesce(array_agg(id ORDER BY id) FILTER (WHERE partner_id = p_workspace_id), '{}')
    INTO v_locked, v_taken, v_own FROM locked;
    v_bad := ARRAY(SELECT unnest(p_ids) EXCEPT SELECT unnest(v_locked) ORDER BY 1);
    IF cardinality(v_bad) > 0 THEN
        r_ids := ARRAY(SELECT unnest(v_bad) EXCEPT SELECT listing.id FROM marketplace_listing AS listing
                       WHERE listing.id = ANY(v_bad) ORDER BY 1);
        IF cardinality(r_ids) > 0 THEN
            r_outcome := 'not_found';
        ELSE
            r_outcome := 'unavailable';
            r_ids := v_bad;
        END IF;
    ELSIF cardinality(v_taken) > 0 THEN
        r_outcome := 'unavailable';
        r_ids := v_taken;
    ELSIF cardinality(v_own) > 0 THEN
        r_outcome := 'own_listing';
        r_ids := v_own;
    ELSE
        r_ids := ARRAY(
            SELECT listing.id FROM marketplace_listing AS listing
            JOIN leads_lead AS lead ON lead.workspace_id = p_workspace_id AND lead.dedup_hash = listing.dedup_hash
            WHERE listing.id = ANY(v_locked) ORDER BY 1
        );
        r_outcome := CASE WHEN cardinality(r_ids) > 0 THEN 'already_owned' ELSE 'ok' END;
        IF r_outcome = 'ok' THEN
            r_ids := v_locked;
        END IF;
    END IF;
    RETURN NEXT;
END
$$
"""

DELIVER = """
CREATE OR REPLACE FUNCTION marketplace_deliver(
    p_purchase_id bigint, p_ids bigint[], p_acquired_prefix varchar, p_max_attempts integer, p_max_balance numeric
) RETURNS TABLE (r_lead_ids bigint[], r_job_id bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_buyer bigint;
    v_created_by bigint;
    v_payment varchar;
    v_sizes varchar[];
    v_industries varchar[];
    v_now timestamptz := clock_timestamp();
    v_reference varchar := 'purchase:' || p_purchase_id;
    v_share record;
BEGIN
    SELECT purchase.workspace_id, purchase.created_by_id, purchase.payment INTO v_buyer, v_created_by, v_payment
    FROM marketplace_leadpurchase AS purchase WHERE purchase.id = p_purchase_id;
    SELECT profile.company_sizes, profile.industries INTO v_sizes, v_industries
    FROM leads_idealcustomerprofile AS profile WHERE profile.workspace_id = v_buyer;
    WITH lead AS (
        INSERT INTO leads_lead (
            first_name, last_name, email, phone, title, seniority, company_name, company_domain, company_size, industry,
            city, state, zip, country, linkedin_url, workspace_id, source, status, email_status, phone_status, score,
            tags, dedup_hash, source_detail, acquired_credits, acquired_reference, pages_viewed, seconds_on_site,
            created_by_id, created_at, updated_at
        )
        SELECT listing.first_name, listing.last_name, listing.email, listing.phone, listing.title, listing.seniority,
               listing.company_name, listing.company_domain, listing.company_size, listing.industry, listing.city,
               listing.state, listing.zip, listing.country, listing.linkedin_url, v_buyer, 'marketplace', 'new',
               verified.email_status, 'unknown',
               leads_score(verified.email_status, 'unknown', 0, 0, listing.company_size, listing.industry, v_now,
                           coalesce(v_sizes, '{}'), coalesce(v_industries, '{}'), v_now),
               '{}', listing.dedup_hash, 'marketplace purchase LP-' || p_purchase_id,
               -- Card purchases too: the card paid the listing's price in credits, which a bounce gives back.
               listing.price, p_acquired_prefix || p_purchase_id, 0, 0, v_created_by, v_now, v_now
        FROM marketplace_listing AS listing
        CROSS JOIN LATERAL (
            SELECT CASE WHEN listing.email_verified THEN 'valid' ELSE 'unknown' END AS email_status
        ) AS verified
        WHERE listing.id = ANY(p_ids) ORDER BY listing.id
        RETURNING *
    ), announced AS (
        INSERT INTO cursive_outboxevent (public_id, workspace_id, type, data, created_at)
        SELECT 'msg_' || substr(md5(gen_random_uuid()::text), 1, 24), v_buyer, 'lead.created',
               jsonb_build_object(
                   'lead_id', lead.id, 'email', lead.email, 'phone', lead.phone, 'first_name', lead.first_name,
                   'last_name', lead.last_name, 'title', lead.title, 'company_name', lead.company_name,
                   'company_domain', lead.company_domain, 'linkedin_url', lead.linkedin_url, 'source', lead.source,
                   'status', lead.status, 'score', lead.score, 'tags', to_jsonb(lead.tags)
               ),
               v_now
        FROM lead ORDER BY lead.id
    )
    SELECT array_agg(lead.id ORDER BY lead.id) INTO r_lead_ids FROM lead;

    IF EXISTS (SELECT 1 FROM marketplace_leadpurchaseitem AS item WHERE item.purchase_id = p_purchase_id) THEN
        UPDATE marketplace_leadpurchaseitem AS item
        SET lead_id = lead.id, is_sale = true, partner_earning = earning.amount
        FROM marketplace_listing AS listing
        JOIN leads_lead AS lead ON lead.workspace_id = v_buyer AND lead.dedup_hash = listing.dedup_hash
        CROSS JOIN LATERAL (
            SELECT CASE WHEN listing.partner_id IS NULL THEN 0
                        ELSE trunc(listing.price * listing.revenue_share_percent / 100, 2) END AS amount
        ) AS earning
        WHERE item.purchase_id = p_purchase_id AND item.listing_id = listing.id AND listing.id = ANY(p_ids)
          AND lead.id = ANY(r_lead_ids);
    ELSE
        INSERT INTO marketplace_leadpurchaseitem (
            purchase_id, listing_id, price, partner_id, partner_earning, lead_id, is_sale, bounce_refunded_credits
        )
        SELECT p_purchase_id, listing.id, listing.price, listing.partner_id,
               CASE WHEN listing.partner_id IS NULL THEN 0
                    ELSE trunc(listing.price * listing.revenue_share_percent / 100, 2) END,
               lead.id, true, 0
        FROM marketplace_listing AS listing
        JOIN leads_lead AS lead ON lead.workspace_id = v_buyer AND lead.dedup_hash = listing.dedup_hash
        WHERE listing.id = ANY(p_ids) AND lead.id = ANY(r_lead_ids)
        ORDER BY listing.id;
    END IF;

    UPDATE marketplace_listing AS listing
    SET status = 'sold', buyer_id = v_buyer, sold_at = v_now, reserved_by_id = NULL, reserved_until = NULL
    WHERE listing.id = ANY(p_ids);

    -- Each partner's share, in workspace id order (their accounts are locked by the caller).
    FOR v_share IN
        SELECT item.partner_id, sum(item.partner_earning) AS amount FROM marketplace_leadpurchaseitem AS item
        WHERE item.purchase_id = p_purchase_id AND item.listing_id = ANY(p_ids) AND item.partner_id IS NOT NULL
        GROUP BY item.partner_id HAVING sum(item.partner_earning) > 0 ORDER BY item.partner_id
    LOOP
        PERFORM 1 FROM credits_post(v_share.partner_id, 'earn', v_share.amount, v_reference, NULL,
                                    'Revenue share on purchase #' || p_purchase_id, p_max_balance);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the revenue share of purchase % does not fit the balance of workspace %',
                p_purchase_id, v_share.partner_id;
        END IF;
    END LOOP;

    INSERT INTO cursive_job (
        func, kwargs, status, attempts, max_attempts, last_error, next_attempt_at, created_at, updated_at
    ) VALUES (
        'marketplace.tasks.send_purchase_confirmation', jsonb_build_object('purchase_id', p_purchase_id), 'pending',
        0, p_max_attempts, '', v_now, v_now, v_now
    ) RETURNING id INTO r_job_id;

    INSERT INTO cursive_outboxevent (public_id, workspace_id, type, data, created_at)
    VALUES (
        'msg_' || substr(md5(gen_random_uuid()::text), 1, 24), v_buyer, 'purchase.completed',
        jsonb_build_object(
            'purchase_id', v_reference, 'kind', 'leads', 'lead_ids', to_jsonb(r_lead_ids),
            'leads', cardinality(r_lead_ids), 'payment', v_payment,
            'description', cardinality(r_lead_ids) || ' marketplace lead'
                           || CASE WHEN cardinality(r_lead_ids) <> 1 THEN 's' ELSE '' END
        ),
        v_now
    );
    RETURN NEXT;
END
$$
"""

PURCHASE_CREDITS = """
CREATE OR REPLACE FUNCTION marketplace_purchase_credits(
    p_workspace_id bigint, p_ids bigint[], p_actor_id bigint, p_acquired_prefix varchar, p_max_attempts integer,
    p_max_balance numeric
) RETURNS TABLE (
    r_outcome text, r_ids bigint[], r_purchase_id bigint, r_created_at timestamptz, r_total numeric,
    r_account_id bigint, r_balance numeric, r_threshold numeric, r_auto_reload boolean, r_lead_ids bigint[],
    r_job_id bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_accounts bigint[];
    v_locked integer;
    v_count integer;
    v_posted record;
BEGIN
    SELECT checked.r_outcome, checked.r_ids INTO r_outcome, r_ids FROM marketplace_listings_lock(p_workspace_id, p_ids) AS checked;
    IF r_outcome <> 'ok' THEN
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT count(*), sum(listing.price) INTO v_count, r_total FROM marketplace_listing AS listing WHERE listing.id = ANY(r_ids);
    -- The buyer's and the partners' accounts, in workspace id order: the order every multi-account operation takes.
    v_accounts := ARRAY(
        SELECT p_workspace_id UNION
        SELECT listing.partner_id FROM marketplace_listing AS listing
        WHERE listing.id = ANY(r_ids) AND listing.partner_id IS NOT NULL ORDER BY 1
    );
    SELECT count(*) INTO v_locked FROM (
        SELECT 1 FROM credits_creditaccount AS account WHERE account.workspace_id = ANY(v_accounts)
        ORDER BY account.workspace_id FOR NO KEY UPDATE
    ) AS locked;
    IF v_locked < cardinality(v_accounts) THEN
        -- Someone's first movement: the caller creates the accounts (credits.services) and calls again.
        r_outcome := 'no_account';
        r_ids := v_accounts;
        RETURN NEXT;
        RETURN;
    END IF;
    r_created_at := clock_timestamp();
    INSERT INTO marketplace_leadpurchase (
        workspace_id, status, payment, total_credits, total_cents, checkout_url, payment_intent_id, refunded_cents,
        failure_reason, needs_review, review_note, created_by_id, created_at, completed_at
    ) VALUES (
        p_workspace_id, 'complete', 'credits', r_total, 0, '', '', 0, '', false, '', p_actor_id, r_created_at, r_created_at
    ) RETURNING id INTO r_purchase_id;
    SELECT * INTO v_posted FROM credits_post(
        p_workspace_id, 'spend', -r_total, 'purchase:' || r_purchase_id, p_actor_id,
        v_count || ' marketplace lead' || CASE WHEN v_count > 1 THEN 's' ELSE '' END, p_max_balance
    );
    IF NOT FOUND THEN
        r_outcome := 'insufficient';
        SELECT account.balance INTO r_balance FROM credits_creditaccount AS account WHERE account.workspace_id = p_workspace_id;
        RETURN NEXT;
        RETURN;
    END IF;
    r_account_id := v_posted.account_id;
    r_balance := v_posted.balance;
    r_threshold := v_posted.low_balance_threshold;
    r_auto_reload := v_posted.auto_reload_enabled;
    SELECT delivered.r_lead_ids, delivered.r_job_id INTO r_lead_ids, r_job_id
    FROM marketplace_deliver(r_purchase_id, r_ids, p_acquired_prefix, p_max_attempts, p_max_balance) AS delivered;
    RETURN NEXT;
END
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0004_item_bounce_refunded_credits"),
        ("credits", "0008_credits_post_function"),
        ("leads", "0012_lead_score_function"),
        ("cursive", "0006_outbox"),
    ]

    operations = [
        migrations.RunSQL(LISTINGS_LOCK, "DROP FUNCTION marketplace_listings_lock(bigint, bigint[])"),
        migrations.RunSQL(DELIVER, "DROP FUNCTION marketplace_deliver(bigint, bigint[], varchar, integer, numeric)"),
        migrations.RunSQL(
            PURCHASE_CREDITS,
            "DROP FUNCTION marketplace_purchase_credits(bigint, bigint[], bigint, varchar, integer, numeric)",
        ),
    ]
