-- The colleges' self-diagnosis reports (附件3), one row per college, year and element, from the
-- recorded files $ZHENGAI_HOME/selfreports/<year>/<school_code>.json (registered by the asset as
-- recorded_selfreport_elements). Character counts follow pipelines/secretariat/selfreport.py.
create or replace table mart.selfreport_elements as
with recorded as (
    select * from recorded_selfreport_elements
),

final as (
    select
        school_code,
        year,
        element_code,
        element_name,
        self_diagnosis,
        improvement_measures,
        improvement_effects,
        self_diagnosis_chars,
        improvement_measures_chars,
        improvement_effects_chars,
        problem_share,
        overview,
        signed_date,
        imported_at,
        source_file
    from recorded
)

select * from final order by school_code, year, element_code
